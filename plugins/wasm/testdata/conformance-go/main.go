// Command conformance-go is the ABI v1 conformance plugin built with the Go
// SDK. Its behaviour is chosen by the request's model ("conf-deny", ...),
// exactly like the hand-written WebAssembly text plugin beside it, and the
// same conformance suite (plugins/wasm/conformance_test.go) runs both.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

var sink [][]byte // the memory bomb keeps what it allocates

func init() {
	sdk.OnRequest(onRequest)
	sdk.OnResponse(func(r *sdk.Response) sdk.Action {
		if strings.Contains(string(r.Body()), "conf-resp-rewrite") {
			r.SetBody([]byte(`{"rewritten":true}`))
		}
		return sdk.Continue()
	})
	sdk.OnStreamEvent(func(e *sdk.StreamEvent) sdk.Action {
		switch {
		case strings.Contains(e.Data, "conf-drop"):
			return sdk.Drop()
		case strings.Contains(e.Data, "conf-upper"):
			e.SetData("CONF")
		}
		return sdk.Continue()
	})
	sdk.OnUsage(func(ev *sdk.UsageEvent) error {
		if ev.Model == "conf-usage-fail" {
			return fmt.Errorf("usage refused by conformance plugin")
		}
		b, _ := json.Marshal(ev)
		return sdk.Deliver("https://allowed.example/usage", b)
	})
}

func onRequest(r *sdk.Request) sdk.Action {
	payload := []byte(`{"conformance":"payload"}`)
	switch r.Model {
	case "conf-deny":
		return sdk.Deny(403, "conformance", "denied by conformance plugin")
	case "conf-respond":
		return sdk.Respond(200, []byte(`{"ok":true}`))
	case "conf-model":
		r.SetModel("conf-rewritten")
	case "conf-route":
		r.SetUpstream("secondary")
	case "conf-body":
		r.SetBody([]byte(`{"model":"conf-body2","messages":[{"role":"user","content":"replaced"}]}`))
	case "conf-meta":
		r.SetMetadata("conformance", "yes")
	case "conf-fail":
		return sdk.Fail("conformance failure")
	case "conf-trap":
		trap()
	case "conf-loop":
		for {
		}
	case "conf-oom":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "conf-log":
		sdk.Log(sdk.LevelInfo, "hello from the conformance plugin")
	case "conf-config":
		return sdk.Respond(200, sdk.Config())
	case "conf-deliver":
		return code(sdk.Deliver("https://allowed.example/ingest", payload))
	case "conf-deliver-denied":
		return code(sdk.Deliver("https://denied.example/ingest", payload))
	case "conf-emit":
		return code(sdk.Emit("audit", payload))
	}
	return sdk.Continue()
}

// trap ends the instance the way a runtime fatal error does in Go: the
// runtime exits, which the host sees like a trap.
func trap() {
	done := make(chan bool)
	go func() {
		var m map[string]int
		m["x"] = 1 // an unrecovered panic in a goroutine ends the program
		done <- true
	}()
	<-done
}

func code(err error) sdk.Action {
	n := 0
	switch err {
	case sdk.ErrDenied:
		n = -1
	case sdk.ErrInvalid:
		n = -2
	case sdk.ErrFailed:
		n = -3
	case sdk.ErrTooLarge:
		n = -4
	}
	return sdk.Respond(200, fmt.Appendf(nil, `{"code":%d}`, n))
}

func main() { sdk.Serve() }
