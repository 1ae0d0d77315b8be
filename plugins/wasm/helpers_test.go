package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// fixture returns the path of a plugin built by `make plugins`, skipping
// the test with a clear message when it is missing (a run outside make).
func fixture(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join("testdata", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is missing: run `make plugins` (make test does) to build the test plugins", path)
	}
	return path
}

// testCache keeps compiled test modules across test runs and packages:
// compiling a Go guest takes seconds, many more under the race detector.
var testCache = filepath.Join(os.TempDir(), "tollgate-wasm-test-cache")

// sum is the sha256 of a file, as a config pins it.
func sum(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// recorder is a Deliverer that keeps what it is handed.
type recorder struct {
	mu   sync.Mutex
	got  []delivery
	fail error
}

type delivery struct {
	dest    string
	payload string
}

func (r *recorder) Deliver(_ context.Context, dest string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, delivery{dest, string(payload)})
	return nil
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open loads a fixture with a config adjusted by edit.
func open(t testing.TB, name string, edit func(*Config), opts ...Option) *Plugin {
	t.Helper()
	path := fixture(t, name)
	cfg := Config{Path: path, SHA256: sum(t, path), DeliverTo: []string{"https://allowed.example/"}, EmitTo: []string{"audit"},
		Config: map[string]any{"greeting": "hi", "n": 3}, CallTimeout: pipeline.Duration(time.Minute)}
	if edit != nil {
		edit(&cfg)
	}
	p, err := Open(context.Background(), name, cfg, append([]Option{WithLogger(quietLog()), WithCacheDir(testCache)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// request returns a parsed OpenAI chat request for model.
func request(model string) *core.Request {
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`
	req := &core.Request{ID: "req-1", Format: openai.New(), Operation: "chat.completions", Method: http.MethodPost,
		Path: "/v1/chat/completions", Header: http.Header{"User-Agent": {"test"}}, Body: []byte(body),
		Customer: "acme", Metadata: map[string]string{"team": "ml"}}
	req.Format.Parse(req)
	return req
}

var upstreams = map[string]*core.Upstream{
	"primary":   core.NewUpstream("primary", "openai", nil, "", ""),
	"secondary": core.NewUpstream("secondary", "openai", nil, "", ""),
}

// echo is the terminal handler of test chains: it answers with what
// reached it.
func echo(_ context.Context, req *core.Request) (*core.Response, error) {
	up := ""
	if req.Upstream != nil {
		up = req.Upstream.Name
	}
	return &core.Response{Status: 200, Header: http.Header{"X-Upstream": {up}, "X-Model": {req.Model}},
		Body: append([]byte(nil), req.Body...)}, nil
}
