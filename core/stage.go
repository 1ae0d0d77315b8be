package core

import "context"

// HandlerFunc answers a call: the rest of the chain as seen from a stage.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Stage is one step of the pipeline. Handle does its work before calling
// next, after it, or answers without calling it at all (a cache hit, a policy
// denial). A stage that returns a Response with a Stream hands ownership of
// the stream to its caller.
//
// Stages are built once per pipeline and must be safe for concurrent use.
type Stage interface {
	Handle(ctx context.Context, req *Request, next HandlerFunc) (*Response, error)
}

// StageFunc adapts a function to a [Stage].
type StageFunc func(ctx context.Context, req *Request, next HandlerFunc) (*Response, error)

// Handle calls f.
func (f StageFunc) Handle(ctx context.Context, req *Request, next HandlerFunc) (*Response, error) {
	return f(ctx, req, next)
}

// Completer observes the final outcome of every call exactly once: success,
// cache hit, denial, upstream error or client abort. Complete runs on the
// request's goroutine after the answer is written, so it must not block: hand
// the work off (the track stage queues a usage event). Completers must be
// safe for concurrent use.
type Completer interface {
	Complete(o *Outcome)
}

// Chain compiles stages into one handler, stages[0] outermost, so the order
// of the slice is the order a request passes through. terminal answers when
// the innermost stage calls next. The chain is built once; calling it
// allocates nothing of its own.
func Chain(stages []Stage, terminal HandlerFunc) HandlerFunc {
	h := terminal
	for i := len(stages) - 1; i >= 0; i-- {
		s, next := stages[i], h
		h = func(ctx context.Context, req *Request) (*Response, error) {
			return s.Handle(ctx, req, next)
		}
	}
	return h
}

// noAnswer is the terminal handler of a pipeline: reaching it means no stage
// produced an answer.
func noAnswer(context.Context, *Request) (*Response, error) {
	return nil, Errorf(KindConfig, "no_call_stage", "no stage answered the call: the pipeline needs a call stage (kind builtin, name call)")
}
