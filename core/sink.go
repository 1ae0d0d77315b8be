package core

import "context"

// Sink receives usage events from tracking: a file, a tracker endpoint, a
// plugin. Write gets events in the order they were accepted and may be
// called again with the same events after a failure, so a sink that can
// deduplicate does so by event ID. Sinks are called from one goroutine at a
// time.
type Sink interface {
	Write(ctx context.Context, events []*UsageEvent) error
	Close() error
}

// Deliverer hands a payload to delivery on behalf of a plugin: dest is a
// destination URL ("https://tracker.example/v1/ingest") or a named sink
// ("sink:audit"). A durable implementation persists the payload before it
// returns, so that a nil error means the payload will be delivered, with
// retries, even across a restart. Callers check dest against the plugin's
// allow-list before calling. Implementations are safe for concurrent use.
type Deliverer interface {
	Deliver(ctx context.Context, dest string, payload []byte) error
}
