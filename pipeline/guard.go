package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// guard wraps a stage with its entry's on_error and timeout, and recovers a
// panic into that stage's failure. A built-in with neither set runs bare:
// trusted code pays nothing.
func guard(s Spec, stage core.Stage, log *slog.Logger, built any, inst Instrument) core.Stage {
	onError := s.OnError
	if onError == "" {
		onError = FailClosed
		if d, ok := built.(Defaulter); ok {
			onError = d.DefaultOnError()
		}
	}
	if s.Kind == KindBuiltin && s.OnError == "" && s.Timeout == 0 {
		return stage
	}
	fo, _ := inst.(FailureObserver)
	return &guarded{name: s.Name, stage: stage, failOpen: onError == FailOpen, timeout: s.Timeout, log: log, failures: fo}
}

// guarded applies on_error and timeout to one stage.
//
// A stage's failure is an error it returns itself — not one that came back
// from next, and not a deliberate answer such as a denial — or a panic, or
// its timeout passing before it calls next. fail_open then goes on as if the
// stage were absent; fail_closed fails the call with a 500 (504 for a timeout).
type guarded struct {
	name     string
	stage    core.Stage
	failOpen bool
	timeout  time.Duration
	log      *slog.Logger
	failures FailureObserver // may be nil
}

// errStageTimeout is the cause of a stage's context when its timeout passes.
var errStageTimeout = errors.New("stage timed out")

func (g *guarded) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (resp *core.Response, err error) {
	var (
		entered  atomic.Bool
		downResp *core.Response
		downErr  error
	)
	inner := func(ctx context.Context, r *core.Request) (*core.Response, error) {
		entered.Store(true)
		downResp, downErr = next(ctx, r)
		return downResp, downErr
	}
	sctx := ctx
	if g.timeout > 0 {
		c, cancel := context.WithCancelCause(ctx)
		t := time.AfterFunc(g.timeout, func() {
			if !entered.Load() {
				cancel(errStageTimeout)
			}
		})
		defer t.Stop()
		sctx = c
	}
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("stage panicked", "stage", g.name, "id", req.ID, "panic", r, "stack", string(debug.Stack()))
			resp, err = g.failed(ctx, req, next, entered.Load(), downResp, downErr, FailurePanic,
				&core.Error{Kind: core.KindInternal, Code: "stage_panic", Stage: g.name, Message: fmt.Sprint("panic: ", r)})
		}
	}()
	resp, err = g.stage.Handle(sctx, req, inner)
	if err == nil || (entered.Load() && err == downErr) || deliberate(err) {
		return resp, err
	}
	reason := FailureError
	if context.Cause(sctx) == errStageTimeout && ctx.Err() == nil {
		reason = FailureTimeout
		err = &core.Error{Kind: core.KindTimeout, Code: "stage_timeout", Stage: g.name,
			Message: fmt.Sprintf("the stage did not finish within its timeout of %s", g.timeout), Err: err}
	}
	return g.failed(ctx, req, next, entered.Load(), downResp, downErr, reason, err)
}

// failed applies on_error to a stage failure.
func (g *guarded) failed(ctx context.Context, req *core.Request, next core.HandlerFunc, entered bool, downResp *core.Response, downErr error, reason string, err error) (*core.Response, error) {
	if g.failures != nil {
		g.failures.StageFailed(g.name, reason, g.failOpen)
	}
	if g.failOpen {
		g.log.Warn("stage failed; going on without it (on_error: fail_open)", "stage", g.name, "id", req.ID, "err", err)
		if entered {
			return downResp, downErr
		}
		return next(ctx, req)
	}
	g.log.Error("stage failed; failing the call (on_error: fail_closed)", "stage", g.name, "id", req.ID, "err", err)
	e := core.AsError(err)
	if e.Stage == "" {
		e = &core.Error{Kind: e.Kind, Code: e.Code, Message: e.Message, Stage: g.name, Err: err}
	}
	return spent(entered, downResp, downErr), e
}

// spent is the answer the upstream gave before the stage failed on it, for
// the engine to meter beside the error (the tokens were spent; the answer
// is not sent), or nil. A stream is passed on too, not closed here: the
// engine closes the streams of a failed call, once.
func spent(entered bool, downResp *core.Response, downErr error) *core.Response {
	if !entered || downErr != nil {
		return nil
	}
	return downResp
}

// deliberate reports whether err is an answer a stage gives on purpose (a
// refusal), not a failure of the stage.
func deliberate(err error) bool {
	var e *core.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case core.KindValidation, core.KindTooLarge, core.KindAuth, core.KindDenied, core.KindRateLimit, core.KindCircuitOpen, core.KindClientGone:
		return true
	}
	return false
}
