package abi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// TestRespondStatus checks the statuses a respond action may set: one
// outside 200–599 broke the ABI (net/http panics below 100, and sends
// the rest as they are).
func TestRespondStatus(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   int // 0: refused
	}{
		{"none is 200", "0", 200},
		{"ok", "200", 200},
		{"not found", "404", 404},
		{"highest", "599", 599},
		{"below net/http's range", "42", 0},
		{"process plugin's 7", "7", 0},
		{"99", "99", 0},
		{"negative", "-5", 0},
		{"informational", "100", 0},
		{"199", "199", 0},
		{"600", "600", 0},
		{"1000", "1000", 0},
		{"int32 max", "2147483647", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"action":"respond","status":` + tt.status + `,"body":{"x":1}}`
			a, err := ParseAction([]byte(doc))
			if tt.want == 0 {
				want := "the plugin answered respond with status " + tt.status + ": a respond status must be 200 to 599"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := Respond(a).Status; got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDenyStatusOutOfRange keeps deny's range: a status outside 400–599 is
// not refused but replaced by 403.
func TestDenyStatusOutOfRange(t *testing.T) {
	a, err := ParseAction([]byte(`{"action":"deny","status":42}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := Denial("p", a); e.Status != 0 || e.HTTPStatus() != http.StatusForbidden {
		t.Fatalf("status = %d (%d)", e.Status, e.HTTPStatus())
	}
}

// TestApplyRequestUpstream checks the upstream a plugin routes a call to:
// it must be configured and speak the call's wire format.
func TestApplyRequestUpstream(t *testing.T) {
	ups := map[string]*core.Upstream{
		"openai":    {Name: "openai", Format: "openai"},
		"azure":     {Name: "azure", Format: "openai"},
		"anthropic": {Name: "anthropic", Format: "anthropic"},
		"claude-eu": {Name: "claude-eu", Format: "anthropic"},
	}
	tests := []struct {
		name     string
		upstream string
		code     string // "": routed
		msg      string
	}{
		{"same format", "azure", "", ""},
		{"other format", "anthropic", "plugin_abi_violation",
			`the plugin routed the call to upstream "anthropic", which speaks anthropic, but the call (POST /v1/chat/completions) is in the openai format; openai upstreams: azure, openai`},
		{"unknown", "nope", "plugin_unknown_upstream",
			`the plugin routed the call to upstream "nope", which is not configured (configured: anthropic, azure, claude-eu, openai)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &core.Request{Format: openai.New(), Method: http.MethodPost, Path: "/v1/chat/completions",
				Body: []byte(`{"model":"gpt-4o","messages":[]}`), Upstream: ups["openai"]}
			a := Action{Action: ActContinue, Upstream: &tt.upstream}
			o := ApplyRequest("plug", a, req, ups)
			if tt.code == "" {
				if o.Err != nil || req.Upstream != ups[tt.upstream] {
					t.Fatalf("err = %v, upstream = %v", o.Err, req.Upstream.Name)
				}
				return
			}
			var e *core.Error
			if !errors.As(o.Err, &e) || e.Code != tt.code || e.Message != tt.msg || e.Stage != "plug" {
				t.Fatalf("err = %#v\nwant %s: %s", o.Err, tt.code, tt.msg)
			}
			if e.Kind == core.KindDenied || e.Kind == core.KindValidation {
				t.Fatalf("kind %v is an answer, not a stage failure: on_error would not apply", e.Kind)
			}
			if req.Upstream != ups["openai"] {
				t.Fatalf("the upstream changed to %s", req.Upstream.Name)
			}
		})
	}
}
