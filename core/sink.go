package core

import (
	"context"
	"errors"
)

// Sink receives usage events from tracking: a file, a tracker endpoint, a
// plugin. Write gets events in the order they were accepted and may be
// called again with the same events after a failure, so a sink that can
// deduplicate does so by event ID. Sinks are called from one goroutine at a
// time.
//
// An error from Write is retried with backoff, and after a configured number
// of attempts the events go to dead letters; an error that wraps
// [ErrSinkRejected] goes to dead letters at once, as retrying cannot help.
type Sink interface {
	Write(ctx context.Context, events []*UsageEvent) error
	Close() error
}

// ErrSinkRejected marks a sink error that retrying cannot fix: the receiver
// refused the events as malformed or unauthorized (an HTTP 4xx other than
// 408 and 429). Wrap it with the reason: fmt.Errorf("%w: 400 bad field",
// core.ErrSinkRejected).
var ErrSinkRejected = errors.New("sink rejected the events")

// Deliverer hands a payload to delivery on behalf of a plugin: dest is a
// destination URL ("https://tracker.example/v1/ingest") or a named sink
// ("sink:audit"). A durable implementation persists the payload before it
// returns, so that a nil error means the payload will be delivered, with
// retries, even across a restart. Callers check dest against the plugin's
// allow-list before calling. Implementations are safe for concurrent use.
type Deliverer interface {
	Deliver(ctx context.Context, dest string, payload []byte) error
}
