package process_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/plugins/process"
	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

// TestMain turns the test binary into a process plugin when tollgate
// starts it as one (the handshake's cookie is set): the first argument
// picks which. The plugin tests then need no binary of their own.
func TestMain(m *testing.M) {
	if os.Getenv(process.Handshake.MagicCookieKey) == process.Handshake.MagicCookieValue && len(os.Args) > 1 {
		switch os.Args[1] {
		case "sdk":
			sdk.OnRequest(selfHook)
			sdk.Serve()
		case "hooks255":
			process.Serve(rawHandler{hooks: 255})
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// selfHook is the SDK plugin's request hook; the model picks what it
// does.
func selfHook(r *sdk.Request) sdk.Action {
	switch r.Model {
	case "hang":
		time.Sleep(time.Hour)
	case "hold":
		return hold()
	case "sleep-1ms":
		time.Sleep(time.Millisecond)
	case "sleep-100ms":
		time.Sleep(100 * time.Millisecond)
	case "status-7":
		return sdk.Respond(7, []byte(`{"x":1}`))
	case "status-600":
		return sdk.Respond(600, []byte(`{"x":1}`))
	case "to-anthropic":
		r.SetUpstream("anthropic")
	case "echo":
		return sdk.Respond(200, r.Body())
	case "double":
		b := r.Body()
		return sdk.Respond(200, bytes.Join([][]byte{[]byte(`{"a":`), b, []byte(`,"b":`), b, []byte(`}`)}, nil))
	}
	return sdk.Continue()
}

// hold is the pool tests' barrier. It marks its arrival in the directory
// the plugin's config names ("dir"), waits until the test creates
// "release" there, marks its departure, and answers how many calls were in
// the plugin's processes when it arrived, itself included.
func hold() sdk.Action {
	var cfg struct {
		Dir string `json:"dir"`
	}
	if err := json.Unmarshal(sdk.Config(), &cfg); err != nil || cfg.Dir == "" {
		return sdk.Fail("hold: the plugin's config names no dir")
	}
	mark := func(prefix string) int {
		if f, err := os.CreateTemp(cfg.Dir, prefix+"*"); err == nil {
			f.Close()
		}
		return countFiles(cfg.Dir, prefix)
	}
	inside := mark("arrived-") - countFiles(cfg.Dir, "left-")
	for deadline := time.Now().Add(time.Minute); countFiles(cfg.Dir, "release") == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return sdk.Fail("hold: not released within a minute")
		}
	}
	mark("left-")
	return sdk.Respond(200, fmt.Appendf(nil, `{"inside":%d}`, inside))
}

// countFiles counts the files in dir whose names start with prefix.
func countFiles(dir, prefix string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

// rawHandler serves the process protocol without the SDK, to answer what
// the SDK never would.
type rawHandler struct{ hooks int }

func (h rawHandler) Init([]byte) (int, error)  { return h.hooks, nil }
func (rawHandler) Call([]byte) ([]byte, error) { return nil, nil }
