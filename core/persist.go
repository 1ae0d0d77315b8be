package core

import "context"

// A shutdown has two bounds. The context given to Close bounds waiting:
// for sinks to deliver, for plugins and exporters to finish. Saving what is
// held in memory — usage events to the outbox's database, calls in flight
// handing theirs off — is quick and must not be cut short with it, or usage
// would be lost; it is bounded by a persist context attached with
// [WithPersistContext]. The host cancels Close's context on a second
// SIGTERM and keeps server.shutdown_timeout's deadline for persisting.

type persistKey struct{}

// WithPersistContext returns ctx carrying persist, the bound of saving
// what is held in memory when ctx is given to a Close method (see
// [PersistContext]). Cancel ctx to stop waiting and delivering early while
// persist still lets usage be saved.
func WithPersistContext(ctx, persist context.Context) context.Context {
	return context.WithValue(ctx, persistKey{}, persist)
}

// PersistContext returns the context that bounds saving what is held in
// memory when ctx is given to Close: the one attached with
// [WithPersistContext], or ctx itself.
func PersistContext(ctx context.Context) context.Context {
	if p, ok := ctx.Value(persistKey{}).(context.Context); ok {
		return p
	}
	return ctx
}
