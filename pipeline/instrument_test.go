package pipeline_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// spy wraps every stage, recording the order stages run in and every
// failure on_error handled.
type spy struct {
	mu       sync.Mutex
	wrapped  []string
	entered  []string
	failures []string
}

func (s *spy) WrapStage(spec pipeline.Spec, stage core.Stage) core.Stage {
	s.wrapped = append(s.wrapped, spec.Name)
	return core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		s.mu.Lock()
		s.entered = append(s.entered, spec.Name)
		s.mu.Unlock()
		return stage.Handle(ctx, req, next)
	})
}

func (s *spy) StageFailed(stage, reason string, failOpen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := "closed"
	if failOpen {
		open = "open"
	}
	s.failures = append(s.failures, stage+" "+reason+" "+open)
}

func TestInstrumentWrapsEveryStageAndSeesFailures(t *testing.T) {
	sp := &spy{}
	specs := []pipeline.Spec{
		{Name: "a", Kind: "test"},
		{Name: "b", Kind: "test", Config: map[string]any{"fail": "error"}, OnError: pipeline.FailOpen},
		{Name: "answer", Kind: pipeline.KindBuiltin},
	}
	p, err := pipeline.Build(specs, pipeline.Env{Log: slog.New(slog.DiscardHandler), Instrument: pipeline.Instruments(nil, sp)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	eng := core.New(core.WithPipeline(p), core.WithFormats(testFormat{}), core.WithUpstream(core.NewUpstream("t", "test", nil, "", "")))
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/test"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sp.wrapped, ","); got != "a,b,answer" {
		t.Errorf("wrapped %s", got)
	}
	if got := strings.Join(sp.entered, ","); got != "a,b,answer" {
		t.Errorf("entered %s", got)
	}
	if got := strings.Join(sp.failures, ","); got != "b error open" {
		t.Errorf("failures %s", got)
	}
	var names []string
	for _, part := range p.Parts() {
		names = append(names, part.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,answer" {
		t.Errorf("parts %s", got)
	}
}
