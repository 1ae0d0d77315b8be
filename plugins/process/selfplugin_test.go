package process_test

import (
	"bytes"
	"os"
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

// rawHandler serves the process protocol without the SDK, to answer what
// the SDK never would.
type rawHandler struct{ hooks int }

func (h rawHandler) Init([]byte) (int, error)  { return h.hooks, nil }
func (rawHandler) Call([]byte) ([]byte, error) { return nil, nil }
