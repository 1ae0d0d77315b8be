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
