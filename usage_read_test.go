package tollgate_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// countingFormat is OpenAI's format counting how often an answer's body
// is read for usage, and asked whether it is an error in place of one.
type countingFormat struct {
	core.Format
	reads, asks *atomic.Int64
}

func (f countingFormat) Usage(req *core.Request, body []byte) (core.Usage, bool) {
	f.reads.Add(1)
	return f.Format.Usage(req, body)
}

func (f countingFormat) AnswerFailure(req *core.Request, body []byte) string {
	f.asks.Add(1)
	return f.Format.(core.AnswerFailer).AnswerFailure(req, body)
}

// An answer whose usage cannot be read is read for it once, by the call
// stage, and asked once whether it is an error: the rate limit reconciling
// its estimate and the engine recording the call see what that read found.
func TestUnreadableUsageIsReadOnce(t *testing.T) {
	for _, tt := range []struct{ name, body, wantStatus string }{
		{"a model that omits usage", `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}`, core.StatusOK},
		{"a body that is not JSON", `<html>bad gateway</html>`, core.StatusOK},
		{"an error inside a 200", `{"object":"error","message":"the model crashed","type":"InternalServerError","code":500}`, core.StatusUpstreamError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(up.Close)
			dir := t.TempDir()
			path := filepath.Join(dir, "tollgate.yaml")
			yaml := "data_dir: " + dir + "\n" + providersYAML(up.URL) +
				"pipeline:\n  - {name: ratelimit, kind: builtin, config: {tokens_per_minute: 100000}}\n  - {name: call, kind: builtin}\n"
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.Options{Path: path, Environ: []string{"TEST_OPENAI_KEY=" + testKey}})
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.DiscardHandler)
			ups, err := tollgate.Upstreams(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			rec := &outcomeLog{}
			p, err := tollgate.BuildPipeline(cfg, ups, log)
			if err != nil {
				t.Fatal(err)
			}
			f := countingFormat{Format: openai.New(), reads: new(atomic.Int64), asks: new(atomic.Int64)}
			eng := core.New(core.WithPipeline(p), core.WithFormats(f), core.WithUpstream(ups["openai"]), core.WithLogger(log),
				core.WithObserver(rec))
			t.Cleanup(func() { eng.Close(context.Background()) })

			w := httptest.NewRecorder()
			eng.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, chatPath,
				strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)))
			if w.Code != 200 || w.Body.String() != tt.body {
				t.Fatalf("the client got %d %s, want the upstream's answer as it came", w.Code, w.Body)
			}
			if n := f.reads.Load(); n != 1 {
				t.Errorf("the answer was read for usage %d times, want 1", n)
			}
			if n := f.asks.Load(); n != 1 {
				t.Errorf("the answer was asked %d times whether it is an error, want 1", n)
			}
			if o := rec.only(t); o.Status != tt.wantStatus || !o.Usage.Estimated {
				t.Errorf("outcome %s with usage %+v, want %s with the estimate", o.Status, o.Usage, tt.wantStatus)
			}
		})
	}
}

// outcomeLog is an engine observer that keeps the outcomes of calls.
type outcomeLog struct {
	mu  sync.Mutex
	all []core.Outcome
}

func (l *outcomeLog) StartCall(ctx context.Context, _ *core.Request) context.Context { return ctx }

func (l *outcomeLog) Complete(o *core.Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, *o)
}

// only returns the one outcome the engine reported.
func (l *outcomeLog) only(t *testing.T) core.Outcome {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) != 1 {
		t.Fatalf("%d outcomes, want 1", len(l.all))
	}
	return l.all[0]
}
