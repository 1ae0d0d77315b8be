package rego_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/rego"
)

// TestDecisionTypesAtLoad refuses at load a decision key whose rules can
// only make a value the stage cannot read; a key whose type is not known
// until the call is loaded.
func TestDecisionTypesAtLoad(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"deny number", `deny := 5`, `p.rego:3: data.tollgate.request.deny is number, want a set of messages`},
		{"deny object", `deny := {"a": 1}`, `data.tollgate.request.deny is object<a: number>, want a set of messages`},
		{"patch number", `patch := 5`, `data.tollgate.request.patch is number, want an object of field paths to values`},
		{"headers string", `headers := "x"`, `data.tollgate.request.headers is string, want an object of header names`},
		{"deny set", `deny contains "x" if input.customer == "a"`, ""},
		{"deny boolean", `deny if input.customer == "a"`, ""},
		{"deny from data", `deny := data.tollgate.config.deny`, ""},
		{"deny number or set", "deny := 5 if input.customer == \"a\"\nelse := {\"x\"}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\n" + tt.src + "\n"})
			s, err := rego.New("p", rego.Config{Paths: []string{dir}}, "", pipeline.Env{CheckOnly: true, Log: slog.New(slog.DiscardHandler)})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
			_ = s
		})
	}
}

// TestPatchedModelType fails the stage when a patch sets the model to
// anything but a name: the body would go upstream with it while the
// gateway routed and metered the old model.
func TestPatchedModelType(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"number", `5`, "the policy's patch sets model to 5: want a model name (a string)"},
		{"empty", `""`, `the policy's patch sets model to "": want a model name`},
		{"null", `null`, "the policy's patch sets model to null: want a model name"},
		{"object", `{"a": 1}`, `the policy's patch sets model to {"a": 1}: want a model name`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\npatch[\"model\"] := " + tt.value + "\n"})
			up := &upstream{body: `{}`}
			name := "model-" + string(rune('a'+i))
			eng, _ := engine(t, pipeline.Spec{Name: name, Config: map[string]any{"paths": []any{dir}}}, up, pipeline.Env{})
			_, err := call(eng, "acme", chat)
			var e *core.Error
			if !errors.As(err, &e) || e.HTTPStatus() != 500 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant a stage failure: %s", err, tt.want)
			}
			if len(up.bodies) != 0 {
				t.Fatalf("the body went upstream: %s", up.last())
			}
			if st := status(t, name); st.Failed != 1 {
				t.Errorf("failed = %d", st.Failed)
			}
		})
	}
	t.Run("a name", func(t *testing.T) {
		dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\npatch[\"model\"] := \"gpt-4o\"\n"})
		up := &upstream{body: `{}`}
		eng, _ := engine(t, pipeline.Spec{Name: "model-ok", Config: map[string]any{"paths": []any{dir}}}, up, pipeline.Env{})
		if _, err := call(eng, "acme", chat); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(up.last(), `"model":"gpt-4o"`) {
			t.Fatalf("upstream body %s", up.last())
		}
	})
}
