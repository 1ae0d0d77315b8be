package rego_test

import (
	"context"
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
	_ "github.com/tollgate-dev/tollgate/plugins/rego"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// writePolicy writes files into a fresh directory and returns it.
func writePolicy(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// upstream is a fake call stage: it records what it was sent and answers
// with resp (a copy), or a stream of events.
type upstream struct {
	mu     sync.Mutex
	bodies [][]byte
	body   string
	events []string
}

func (u *upstream) Handle(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
	u.mu.Lock()
	u.bodies = append(u.bodies, append([]byte(nil), req.Body...))
	u.mu.Unlock()
	h := http.Header{"Content-Type": {"application/json"}}
	if len(u.events) == 0 {
		return &core.Response{Status: 200, Header: h, Body: []byte(u.body)}, nil
	}
	i := 0
	return &core.Response{Status: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Stream: core.StreamFunc{
		NextFunc: func() (*core.Event, error) {
			if i >= len(u.events) {
				return nil, io.EOF
			}
			d := u.events[i]
			i++
			return &core.Event{Raw: []byte("data: " + d + "\n\n"), Data: []byte(d)}, nil
		}}}, nil
}

func (u *upstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return string(u.bodies[len(u.bodies)-1])
}

// outcomes records every outcome.
type outcomes struct {
	mu  sync.Mutex
	all []*core.Outcome
}

func (o *outcomes) Complete(out *core.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, out)
}

func (o *outcomes) lastEvent() *core.UsageEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return core.NewUsageEvent(o.all[len(o.all)-1])
}

// parts hands test stages to pipeline.Build by entry name.
var parts sync.Map

func init() {
	pipeline.RegisterKind("test", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		v, _ := parts.Load(s.Name)
		return v, nil
	})
}

// engine builds an OpenAI engine whose pipeline is the rego stage (spec),
// then up in place of the call stage, with a recorder of outcomes.
func engine(t *testing.T, spec pipeline.Spec, up *upstream, env pipeline.Env) (*core.Engine, *outcomes) {
	t.Helper()
	spec.Kind = "rego"
	if spec.Name == "" {
		spec.Name = "guardrails"
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	rec := &outcomes{}
	upName, recName := t.Name()+"/up", t.Name()+"/rec"
	parts.Store(upName, up)
	parts.Store(recName, rec)
	p, err := pipeline.Build([]pipeline.Spec{spec, {Name: upName, Kind: "test"}, {Name: recName, Kind: "test"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()),
		core.WithUpstream(core.NewUpstream("openai", "openai", nil, "", "")))
	return eng, rec
}

// call runs one chat call through eng.
func call(eng *core.Engine, customer, body string) (*core.Response, error) {
	ctx := core.WithCustomer(context.Background(), customer)
	return eng.Do(ctx, &core.Request{Path: "/v1/chat/completions", Body: []byte(body)})
}

// fixedSpendT reports a little usage for everyone.
type fixedSpendT struct{}

func (fixedSpendT) Spend(context.Context, string, time.Time) (core.UsageTotals, core.UsageTotals, error) {
	return core.UsageTotals{TotalTokens: 10}, core.UsageTotals{TotalTokens: 100}, nil
}
