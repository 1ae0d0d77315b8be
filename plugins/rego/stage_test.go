package rego_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/rego"
)

const chat = `{"model":"gpt-4o-mini","x_unknown":{"keep":[1,2.50,"é"]},"messages":[{"role":"user","content":"hello"}]}`

const requestPolicy = `package tollgate.request

deny contains "no gpt-4 here" if input.request.model == "gpt-4"

deny contains sprintf("customer %s is blocked", [input.customer]) if input.customer == "blocked"

patch["max_tokens"] := 100 if input.request.body.max_tokens > 100

patch["user"] := input.customer if input.customer != ""

headers["x-policy"] := "checked"
`

func TestRequestDecision(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": requestPolicy, "p_test.rego": "package broken\n\nthis does not parse"})
	up := &upstream{body: `{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`}
	eng, rec := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}}}, up, pipeline.Env{})

	t.Run("deny lists every reason and records them", func(t *testing.T) {
		_, err := call(eng, "blocked", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`)
		var e *core.Error
		if !errors.As(err, &e) || e.Kind != core.KindDenied || e.HTTPStatus() != 403 {
			t.Fatalf("err = %v", err)
		}
		if got := strings.Join(e.Reasons, "|"); got != "customer blocked is blocked|no gpt-4 here" {
			t.Errorf("reasons %q", got)
		}
		if !strings.Contains(e.Error(), "no gpt-4 here") || e.Header.Get("X-Policy") != "checked" {
			t.Errorf("error %v, header %v", e, e.Header)
		}
		ev := rec.lastEvent()
		if ev.Status != core.StatusDenied || len(ev.Reasons) != 2 {
			t.Errorf("usage event %+v", ev)
		}
		if len(up.bodies) != 0 {
			t.Error("a denied call reached upstream")
		}
	})
	t.Run("patch keeps unknown fields byte for byte", func(t *testing.T) {
		body := strings.Replace(chat, `"model"`, `"max_tokens":4000,"model"`, 1)
		resp, err := call(eng, "acme", body)
		if err != nil {
			t.Fatal(err)
		}
		got := up.last()
		for _, want := range []string{`"max_tokens":100`, `"user":"acme"`, `"x_unknown":{"keep":[1,2.50,"é"]}`} {
			if !strings.Contains(got, want) {
				t.Errorf("upstream body lacks %s: %s", want, got)
			}
		}
		if resp.Header.Get("X-Policy") != "checked" {
			t.Errorf("headers %v", resp.Header)
		}
	})
	t.Run("no patch leaves the body untouched", func(t *testing.T) {
		if _, err := call(eng, "", chat); err != nil {
			t.Fatal(err)
		}
		if up.last() != chat {
			t.Errorf("body changed: %s", up.last())
		}
	})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		cfg   map[string]any
		want  []string
	}{
		{"parse error names file and line", map[string]string{"a.rego": "package tollgate.request\n\ndeny contains x if {\n  x := \n}\n"},
			nil, []string{"a.rego:5:", "rego_parse_error"}},
		{"type error names file and line", map[string]string{"a.rego": "package tollgate.request\n\ndeny contains x if {\n  x := count(1)\n}\n"},
			nil, []string{"a.rego:4:", "rego_type_error"}},
		{"http.send is off", map[string]string{"a.rego": "package tollgate.request\n\ndeny contains x if {\n  x := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"}).body\n}\n"},
			nil, []string{"a.rego:4:", "undefined function http.send", "set allow_network: true"}},
		{"net.lookup_ip_addr is off", map[string]string{"a.rego": "package tollgate.request\n\ndeny contains x if {\n  some x in net.lookup_ip_addr(\"localhost\")\n}\n"},
			nil, []string{"net.lookup_ip_addr", "allow_network"}},
		{"a query no policy defines", map[string]string{"a.rego": "package tollgate.reqest\n\ndeny contains 1 if false\n"},
			nil, []string{"query data.tollgate.request: no policy defines it"}},
		{"no paths", nil, map[string]any{"paths": []any{}}, []string{"paths: at least one"}},
		{"missing path", nil, map[string]any{"paths": []any{"/nonexistent/policies"}}, []string{"/nonexistent/policies"}},
		{"bad phase", map[string]string{"a.rego": "package tollgate.request\n"}, map[string]any{"phase": "sometimes"}, []string{"phase: want request, response or both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == nil {
				cfg = map[string]any{}
			}
			if _, ok := cfg["paths"]; !ok {
				cfg["paths"] = []any{writePolicy(t, tt.files)}
			}
			_, err := pipeline.Build([]pipeline.Spec{{Name: "guardrails", Kind: "rego", Config: cfg}}, pipeline.Env{CheckOnly: true})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "pipeline[0] (guardrails)") {
				t.Errorf("error does not name the entry: %v", err)
			}
		})
	}
	t.Run("allow_network compiles http.send", func(t *testing.T) {
		dir := writePolicy(t, map[string]string{"a.rego": "package tollgate.request\n\ndeny contains x if {\n  input.x\n  x := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"}).body\n}\n"})
		_, err := pipeline.Build([]pipeline.Spec{{Name: "g", Kind: "rego", Config: map[string]any{"paths": []any{dir}, "allow_network": true}}}, pipeline.Env{CheckOnly: true})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestBundleDirectoryAndData(t *testing.T) {
	dir := writePolicy(t, map[string]string{
		".manifest":                  `{"revision": "r1", "roots": ["tollgate"]}`,
		"tollgate/request.rego":      "package tollgate.request\n\ndeny contains msg if {\n  some m in data.tollgate.banned\n  input.request.model == m\n  msg := sprintf(\"%s is banned by %s\", [m, data.tollgate.owner])\n}\n",
		"tollgate/data.json":         `{"banned": ["gpt-4"]}`,
		"tollgate/request_test.rego": "package tollgate.request_test\n\ntest_x if true\n",
	})
	up := &upstream{body: `{}`}
	eng, _ := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "data": map[string]any{"tollgate": map[string]any{"owner": "platform"}}}}, up, pipeline.Env{})
	_, err := call(eng, "acme", `{"model":"gpt-4","messages":[]}`)
	var e *core.Error
	if !errors.As(err, &e) || e.Reasons[0] != "gpt-4 is banned by platform" {
		t.Fatalf("err = %v", err)
	}
}

func TestEvalFailureFollowsOnError(t *testing.T) {
	slow := "package tollgate.request\n\ndeny contains \"x\" if {\n  count([1 | some i in numbers.range(1, 50000000); i < 0]) > 0\n}\n"
	broken := "package tollgate.request\n\nv := 1 if input.request.model\n\nv := 2 if input.request.model\n\ndeny contains \"x\" if v\n"
	tests := []struct {
		name, policy, onError string
		wantKind              core.Kind
		wantOK                bool
	}{
		{"timeout fails closed by default", slow, "", core.KindInternal, false},
		{"timeout fails open", slow, pipeline.FailOpen, 0, true},
		{"error fails closed", broken, pipeline.FailClosed, core.KindInternal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, map[string]string{"p.rego": tt.policy})
			up := &upstream{body: `{}`}
			eng, _ := engine(t, pipeline.Spec{OnError: tt.onError, Config: map[string]any{"paths": []any{dir}, "eval_timeout": "20ms"}}, up, pipeline.Env{})
			_, err := call(eng, "acme", `{"model":"zero","messages":[]}`)
			if tt.wantOK {
				if err != nil || len(up.bodies) != 1 {
					t.Fatalf("want the call to go on, got %v", err)
				}
				return
			}
			var e *core.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Stage != "guardrails" {
				t.Fatalf("err = %#v", err)
			}
			if len(up.bodies) != 0 {
				t.Error("the call reached upstream")
			}
		})
	}
}

const responsePolicy = `package tollgate.response

deny contains "the answer mentions the secret" if contains(input.response.text, "SECRET")

headers["x-answer-checked"] := "yes"
`

func TestResponsePhase(t *testing.T) {
	dir := writePolicy(t, map[string]string{"r.rego": responsePolicy})
	delta := func(s string) string { return `{"choices":[{"delta":{"content":"` + s + `"}}]}` }
	t.Run("whole body denied, tokens still counted", func(t *testing.T) {
		up := &upstream{body: `{"choices":[{"message":{"content":"the SECRET is 42"}}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`}
		eng, rec := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "phase": "response"}}, up, pipeline.Env{})
		_, err := call(eng, "acme", chat)
		var e *core.Error
		if !errors.As(err, &e) || e.Kind != core.KindDenied || !strings.Contains(e.Message, "the answer was withheld") {
			t.Fatalf("err = %v", err)
		}
		if ev := rec.lastEvent(); ev.Status != core.StatusDenied || ev.OutputTokens != 7 {
			t.Errorf("usage event %+v", ev)
		}
	})
	t.Run("whole body allowed gets headers", func(t *testing.T) {
		up := &upstream{body: `{"choices":[{"message":{"content":"fine"}}]}`}
		eng, _ := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "phase": "response"}}, up, pipeline.Env{})
		resp, err := call(eng, "acme", chat)
		if err != nil || resp.Header.Get("X-Answer-Checked") != "yes" {
			t.Fatalf("resp %v, err %v", resp, err)
		}
	})
	streamBody := strings.Replace(chat, `"model"`, `"stream":true,"model"`, 1)
	t.Run("event mode cuts the stream at the offending event", func(t *testing.T) {
		up := &upstream{events: []string{delta("one "), delta("two SEC"), delta("RET three"), delta("four"), "[DONE]"}}
		eng, rec := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "phase": "response", "stream_mode": "event"}}, up, pipeline.Env{})
		resp, err := call(eng, "acme", streamBody)
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, resp.Stream)
		if len(got) != 3 || !strings.Contains(got[0], "one") || !strings.Contains(got[1], "two SEC") {
			t.Fatalf("events %q", got)
		}
		if !strings.HasPrefix(got[2], "data: {\"error\"") || !strings.Contains(got[2], "the answer mentions the secret") {
			t.Errorf("closing event %q", got[2])
		}
		if ev := rec.lastEvent(); ev.Status != core.StatusDenied || ev.Reasons[0] != "the answer mentions the secret" {
			t.Errorf("usage event %+v", ev)
		}
	})
	t.Run("hold mode refuses before sending anything", func(t *testing.T) {
		up := &upstream{events: []string{delta("one "), delta("SECRET"), "[DONE]"}}
		eng, rec := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "phase": "response", "stream_mode": "hold"}}, up, pipeline.Env{})
		_, err := call(eng, "acme", streamBody)
		if !errors.Is(err, core.ErrDenied) {
			t.Fatalf("err = %v", err)
		}
		if ev := rec.lastEvent(); ev.Status != core.StatusDenied || ev.HTTPStatus != 403 {
			t.Errorf("usage event %+v", ev)
		}
	})
	t.Run("hold mode releases a clean stream whole", func(t *testing.T) {
		up := &upstream{events: []string{delta("one "), delta("two"), "[DONE]"}}
		eng, _ := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "phase": "response", "stream_mode": "hold"}}, up, pipeline.Env{})
		resp, err := call(eng, "acme", streamBody)
		if err != nil {
			t.Fatal(err)
		}
		if got := drain(t, resp.Stream); len(got) != 3 || resp.Header.Get("X-Answer-Checked") != "yes" {
			t.Errorf("events %q, header %v", got, resp.Header)
		}
	})
}

func drain(t *testing.T, s core.Stream) []string {
	t.Helper()
	defer s.Close()
	var out []string
	for {
		ev, err := s.Next()
		if err == io.EOF || errors.Is(err, core.ErrDenied) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(ev.Raw))
	}
}

func TestReload(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\ndeny contains \"v1\" if input.request.model == \"m\"\n"})
	s, err := rego.New("guardrails", rego.Config{Paths: []string{dir}, ReloadInterval: pipeline.Duration(10 * time.Millisecond)}, "", pipeline.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	deny := func() string {
		req := &core.Request{Model: "m", Body: []byte(`{}`)}
		_, err := s.Handle(context.Background(), req, func(context.Context, *core.Request) (*core.Response, error) { return &core.Response{Status: 200}, nil })
		var e *core.Error
		if errors.As(err, &e) && len(e.Reasons) > 0 {
			return e.Reasons[0]
		}
		return ""
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for range 500 {
			if ok() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	rev := s.Status().Revision
	// A bad edit is rejected; the old policy stays and the error shows.
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package tollgate.request\n\ndeny contains \"v2\" if {\n"), 0o600)
	waitFor("the reload error", func() bool { return s.Status().LastError != "" })
	if st := s.Status(); deny() != "v1" || st.Revision != rev || !strings.Contains(st.LastError, "p.rego:") {
		t.Errorf("after a bad edit: deny %q, status %+v", deny(), st)
	}
	if !slicesContain(rego.Statuses(), "guardrails") {
		t.Error("Statuses does not list the stage")
	}
	// A good edit is swapped in and clears the error.
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package tollgate.request\n\ndeny contains \"v3\" if input.request.model == \"m\"\n"), 0o600)
	waitFor("the new policy", func() bool { return deny() == "v3" })
	if st := s.Status(); st.LastError != "" || st.Revision == rev || st.Reloads != 1 {
		t.Errorf("after a good edit: %+v", st)
	}
	// A new file in the directory is picked up too.
	os.WriteFile(filepath.Join(dir, "q.rego"), []byte("package tollgate.request\n\ndeny contains \"v4\" if input.request.model == \"m\"\n"), 0o600)
	waitFor("the added file", func() bool { return s.Status().Files == 2 })
}

// TestReloadIgnoresTheEditorsTemporaryFile: a save-by-rename puts the new
// text in a temporary file next to the policy for a moment; a poll that
// sees it must not count as a change (it made the policy reload twice).
func TestReloadIgnoresTheEditorsTemporaryFile(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": "package tollgate.request\n\ndeny contains \"v1\" if input.request.model == \"m\"\n"})
	s, err := rego.New("guardrails", rego.Config{Paths: []string{dir}}, "", pipeline.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, name := range []string{"p.rego.tmp", "p.rego~", ".p.rego.swp"} {
		os.WriteFile(filepath.Join(dir, name), []byte("package tollgate.request\n\ndeny contains \"v2\" if true\n"), 0o600)
		if s.Reload(false) {
			t.Errorf("%s next to the policy made it reload", name)
		}
	}
	if st := s.Status(); st.Reloads != 0 || st.Files != 1 {
		t.Errorf("status %+v, want no reload and one file", st)
	}
}

func slicesContain(st []rego.Status, name string) bool {
	for _, s := range st {
		if s.Stage == name {
			return true
		}
	}
	return false
}

type deliveries struct {
	mu  sync.Mutex
	got map[string][]string
}

func (d *deliveries) Deliver(_ context.Context, dest string, payload []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[dest] = append(d.got[dest], string(payload))
	return nil
}

func TestDecisionLog(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": requestPolicy})
	d := &deliveries{got: map[string][]string{}}
	up := &upstream{body: `{}`}
	spec := pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "decision_log": map[string]any{"sink": "audit"}}}
	eng, _ := engine(t, spec, up, pipeline.Env{Deliverer: d})
	call(eng, "acme", `{"model":"gpt-4","messages":[{"role":"user","content":"my secret prompt"}]}`)
	for range 200 {
		d.mu.Lock()
		n := len(d.got["sink:audit"])
		d.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.got["sink:audit"]) != 1 {
		t.Fatalf("deliveries %v", d.got)
	}
	rec := d.got["sink:audit"][0]
	for _, want := range []string{`"decision_id":`, `"path":"tollgate/request"`, `"denied":true`, `"reasons":["no gpt-4 here"]`,
		`"erased":["/input/request/body"]`, `"customer":"acme"`, `"timer_rego_query_eval_ns":`, `"result":{`} {
		if !strings.Contains(rec, want) {
			t.Errorf("decision lacks %s:\n%s", want, rec)
		}
	}
	if strings.Contains(rec, "my secret prompt") {
		t.Errorf("the prompt was logged despite the mask:\n%s", rec)
	}
}

func TestDecisionLogFile(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": requestPolicy})
	path := filepath.Join(t.TempDir(), "logs", "decisions.jsonl")
	up := &upstream{body: `{}`}
	spec := pipeline.Spec{Config: map[string]any{"paths": []any{dir}, "decision_log": map[string]any{"path": path, "mask": []any{}}}}
	eng, _ := engine(t, spec, up, pipeline.Env{})
	call(eng, "acme", `{"model":"gpt-4","messages":[{"role":"user","content":"logged prompt"}]}`)
	call(eng, "acme", chat)
	var b []byte
	for range 200 {
		if b, _ = os.ReadFile(path); strings.Count(string(b), "\n") == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"denied":true`) || !strings.Contains(lines[0], "logged prompt") ||
		!strings.Contains(lines[1], `"denied":false`) || strings.Contains(lines[0], `"erased"`) {
		t.Errorf("decision log file:\n%s", b)
	}
}

func TestDecisionLogSinkNeedsAnOutbox(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": requestPolicy})
	_, err := pipeline.Build([]pipeline.Spec{{Name: "g", Kind: "rego", Config: map[string]any{"paths": []any{dir}, "decision_log": map[string]any{"sink": "audit"}}}}, pipeline.Env{})
	if err == nil || !strings.Contains(err.Error(), "decision_log.sink") {
		t.Fatalf("err = %v", err)
	}
}
