package pluginhost

import (
	"context"
	"log/slog"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Caller runs one hook of a plugin and returns its parsed answer; an error
// is a failure of the plugin (a trap, a timeout, a crash), already typed as
// a *core.Error naming the stage.
type Caller interface {
	Call(ctx context.Context, hook int, in *abi.Input) (abi.Action, error)
	Close(ctx context.Context) error
}

// Stage runs a plugin's hooks around the rest of the chain: request before
// next, response on a whole answer, stream_event on each event of a
// streamed one. Both plugin hosts build their stages on it. Safe for
// concurrent use if the Caller is.
type Stage struct {
	Caller    Caller
	Name      string
	Hooks     int
	Upstreams map[string]*core.Upstream
	Log       *slog.Logger
}

// Handle runs the plugin's hooks around next.
func (s *Stage) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	if s.Hooks&abi.HookRequest != 0 {
		a, err := s.Caller.Call(ctx, abi.HookRequest, &abi.Input{Req: req})
		if err != nil {
			return nil, err
		}
		if a.Action != abi.ActContinue || !a.Plain() {
			o := abi.ApplyRequest(s.Name, a, req, s.Upstreams)
			if o.Err != nil || o.Answer != nil {
				return o.Answer, o.Err
			}
		}
	}
	resp, err := next(ctx, req)
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.Stream != nil {
		if s.Hooks&abi.HookStreamEvent != 0 {
			resp.Stream = &stream{s: s, ctx: ctx, req: req, inner: resp.Stream}
		}
		return resp, nil
	}
	if s.Hooks&abi.HookResponse == 0 {
		return resp, nil
	}
	// The upstream has answered and spent its tokens: they count whatever
	// the hook makes of the answer. A failure or a refusal returns the
	// answer beside the error for the engine to meter (it is not sent), a
	// new or rewritten answer carries the upstream's usage, not what its
	// own body would read as.
	resp.ReadUsage(req)
	a, err := s.Caller.Call(ctx, abi.HookResponse, &abi.Input{Req: req, Resp: resp})
	if err != nil {
		return resp, err
	}
	o := abi.ApplyResponse(s.Name, a, resp)
	switch {
	case o.Err != nil && o.Answer == nil:
		return resp, o.Err
	case o.Answer != nil && o.Answer != resp:
		o.Answer.Usage, o.Answer.UsageKnown = resp.Usage, resp.UsageKnown
	}
	return o.Answer, o.Err
}

// Close closes the plugin.
func (s *Stage) Close(ctx context.Context) error { return s.Caller.Close(ctx) }

// stream runs the stream_event hook on each event as it passes.
type stream struct {
	s     *Stage
	ctx   context.Context
	req   *core.Request
	inner core.Stream
}

func (st *stream) Next() (*core.Event, error) {
	for {
		ev, err := st.inner.Next()
		if err != nil {
			return ev, err
		}
		if ev.Data == nil && ev.Name == "" {
			// A keep-alive comment: nothing for the hook to read, and a
			// rewrite would turn it into data the client never expected.
			return ev, nil
		}
		a, err := st.s.Caller.Call(st.ctx, abi.HookStreamEvent, &abi.Input{Req: st.req, Ev: ev})
		if err == nil {
			var keep bool
			if keep, err = abi.ApplyStreamEvent(st.s.Name, a, ev); err == nil && !keep {
				continue
			}
		}
		if err != nil {
			// The answer has started: a failed plugin can no longer fail the
			// call, so the event passes unchanged.
			st.s.Log.Warn("stream_event hook failed; passing the event unchanged", "stage", st.s.Name, "id", st.req.ID, "err", err)
		}
		return ev, nil
	}
}

func (st *stream) Close() error { return st.inner.Close() }

// Sink is a tracking sink run by a plugin's usage hook: each batch of usage
// events is one call. A fail answer or a plugin failure fails the write,
// and tracking retries the batch.
type Sink struct {
	Caller Caller
	Name   string
}

// Write hands a batch of events to the plugin.
func (s *Sink) Write(ctx context.Context, events []*core.UsageEvent) error {
	if len(events) == 0 {
		return nil
	}
	a, err := s.Caller.Call(ctx, abi.HookUsage, &abi.Input{Events: events})
	if err != nil {
		return err
	}
	if a.Action == abi.ActFail {
		return abi.Failure(s.Name, a)
	}
	return nil
}

// Close closes the plugin.
func (s *Sink) Close() error { return s.Caller.Close(context.Background()) }

var (
	_ core.Stage = (*Stage)(nil)
	_ core.Sink  = (*Sink)(nil)
)
