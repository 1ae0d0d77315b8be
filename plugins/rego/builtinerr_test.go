package rego_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/rego"
)

// errorLog keeps the messages logged, and the errors logged with them.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
	errs []string
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			l.mu.Lock()
			l.errs = append(l.errs, r.Message+": "+a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

// TestBuiltinErrorFailsTheStage checks that a built-in's error fails the
// stage, with either evaluator, instead of leaving the rule undefined and
// the call allowed: on_error applies, the failure is logged and counted,
// and the message names the policy's file and line and the built-in.
func TestBuiltinErrorFailsTheStage(t *testing.T) {
	rules := []struct{ name, rule, builtin string }{
		{"bad regex", `deny contains "blocked" if regex.match(data.tollgate.config.block, input.request.prompt)`, "regex.match"},
		{"to_number", `deny contains "big" if to_number(data.tollgate.config.size) > 10`, "to_number"},
		{"divide by zero", `deny contains "ratio" if 1 / data.tollgate.config.zero > 1`, "div"},
	}
	// The plan evaluator runs these; a rule with rand.intn sends the
	// package to topdown.
	engines := map[string]string{"plan": "", "topdown": "\ndeny contains \"never\" if rand.intn(\"x\", 1) > 5\n"}
	data := map[string]any{"tollgate": map[string]any{"config": map[string]any{"block": "(?i)secret[", "size": "1k", "zero": 0}}}
	for engineName, extra := range engines {
		for i, r := range rules {
			extra := extra
			t.Run(engineName+"/"+r.name, func(t *testing.T) {
				dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\n" + r.rule + "\n" + extra})
				name := "builtin-" + engineName + "-" + string(rune('a'+i))
				logs := &errorLog{}
				eng, _ := engine(t, pipeline.Spec{Name: name, Config: map[string]any{"paths": []any{dir}, "data": data}},
					&upstream{body: `{}`}, pipeline.Env{Log: slog.New(logs)})
				if topdown := strings.Contains(strings.Join(logs.msgs, "\n"), "evaluated by OPA's evaluator (topdown)"); topdown != (extra != "") {
					t.Fatalf("evaluated by topdown: %v, want %v", topdown, extra != "")
				}
				_, err := call(eng, "acme", chat)
				t.Log(err)
				var e *core.Error
				if !errors.As(err, &e) || e.HTTPStatus() != 500 || e.Stage != name {
					t.Fatalf("err = %v, want the stage's failure (500, fail_closed)", err)
				}
				want := "p.rego:3: "
				if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, r.builtin+": ") {
					t.Errorf("err = %v\nwant it to name %s and %s", err, want, r.builtin)
				}
				logged := strings.Join(logs.errs, "\n")
				if !strings.Contains(logged, "stage failed") || !strings.Contains(logged, r.builtin+": ") {
					t.Errorf("logged %q", logged)
				}
				if st := status(t, name); st.Failed != 1 || st.Evaluated != 1 {
					t.Errorf("status: evaluated %d, failed %d", st.Evaluated, st.Failed)
				}
			})
		}
	}
	t.Run("fail_open lets the call through", func(t *testing.T) {
		dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\n" + rules[0].rule + "\n"})
		eng, _ := engine(t, pipeline.Spec{Name: "builtin-open", OnError: pipeline.FailOpen, Config: map[string]any{"paths": []any{dir}, "data": data}},
			&upstream{body: `{}`}, pipeline.Env{})
		if _, err := call(eng, "acme", chat); err != nil {
			t.Fatal(err)
		}
	})
}

func status(t *testing.T, stage string) rego.Status {
	t.Helper()
	for _, st := range rego.Statuses() {
		if st.Stage == stage {
			return st
		}
	}
	t.Fatalf("no status for stage %s", stage)
	return rego.Status{}
}
