package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// WrapStage times the stage's own work per call. The call stage, which
// never calls next, is timed whole and also counts as the upstream attempt.
//
// # Notes
//
// For a streamed answer a stage's time runs until it returns the stream;
// the work it does on each event is part of the request's duration only.
// The cost is four clock reads and, for a stage that calls next, one small
// allocation per call (see BenchmarkStageOverhead).
func (m *Metrics) WrapStage(spec pipeline.Spec, stage core.Stage) core.Stage {
	h := m.stageDuration.WithLabelValues(spec.Name)
	if spec.Kind == pipeline.KindBuiltin && pipeline.BuiltinName(spec.Name) == "call" {
		return &timedCall{stage: stage, own: h, m: m}
	}
	return &timedStage{stage: stage, own: h}
}

// timedStage observes a stage's time less the time spent in next.
type timedStage struct {
	stage core.Stage
	own   prometheus.Observer
}

func (t *timedStage) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	start := time.Now()
	var inner atomic.Int64 // next may run more than once (retry), even concurrently (hedging)
	resp, err := t.stage.Handle(ctx, req, func(ctx context.Context, r *core.Request) (*core.Response, error) {
		s := time.Now()
		resp, err := next(ctx, r)
		inner.Add(int64(time.Since(s)))
		return resp, err
	})
	t.own.Observe((time.Since(start) - time.Duration(inner.Load())).Seconds())
	return resp, err
}

// timedCall observes the innermost call stage: its time is the upstream
// attempt's.
type timedCall struct {
	stage core.Stage
	own   prometheus.Observer
	m     *Metrics
}

func (t *timedCall) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	start := time.Now()
	resp, err := t.stage.Handle(ctx, req, next)
	d := time.Since(start).Seconds()
	t.own.Observe(d)
	if req.Upstream != nil {
		t.m.upstreamFor(req.Upstream.Name).Observe(d)
	}
	return resp, err
}

var (
	_ core.Stage = (*timedStage)(nil)
	_ core.Stage = (*timedCall)(nil)
)

// upstreamFor returns the upstream histogram of an upstream, resolved once.
func (m *Metrics) upstreamFor(name string) prometheus.Observer {
	if o, ok := m.upstreams.Load(name); ok {
		return o.(prometheus.Observer)
	}
	o, _ := m.upstreams.LoadOrStore(name, m.upstreamDur.WithLabelValues(name))
	return o.(prometheus.Observer)
}
