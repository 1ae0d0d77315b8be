package core

import (
	"context"
	"net/http"
)

// Observer watches every call of an engine, whichever pipeline serves it;
// metrics and traces are observers, and they outlive pipeline swaps.
//
// StartCall runs once a call is prepared, just before its first stage; the
// context it returns is the one the stages see (a tracer puts the call's
// span in it). A call refused at ingress, before any stage, gets no
// StartCall. Complete runs once per call with the outcome, after the
// pipeline's completers, and [Outcome.Context] is the context StartCall
// returned (or the caller's context for a call refused at ingress).
//
// Observers must be safe for concurrent use and must not block.
type Observer interface {
	StartCall(ctx context.Context, req *Request) context.Context
	Completer
}

// WithObserver adds an observer to the engine. Observers run in the order
// added.
func WithObserver(o Observer) Option { return func(e *Engine) { e.observers = append(e.observers, o) } }

// Part is one built entry of a pipeline — a stage, a completer, or both —
// kept under its config name so that the host can ask it for what it
// implements beyond [Stage] (a health check, statistics).
type Part struct {
	Name  string
	Value any
}

// HeaderInjector adds headers to the upstream requests of a call: a tracer
// injects the W3C trace context of the call's span.
type HeaderInjector interface {
	InjectHeader(ctx context.Context, h http.Header)
}

type injectorKey struct{}

// WithHeaderInjector returns a context whose upstream requests get headers
// from inj. An [Observer] sets it in StartCall.
func WithHeaderInjector(ctx context.Context, inj HeaderInjector) context.Context {
	return context.WithValue(ctx, injectorKey{}, inj)
}

// InjectHeaders adds the headers the context's [HeaderInjector] wants to h,
// an upstream request's header. A call stage calls it for each attempt; it
// does nothing when no injector is set.
func InjectHeaders(ctx context.Context, h http.Header) {
	if inj, ok := ctx.Value(injectorKey{}).(HeaderInjector); ok {
		inj.InjectHeader(ctx, h)
	}
}
