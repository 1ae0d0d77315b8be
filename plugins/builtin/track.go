package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// TrackConfig configures the track stage.
type TrackConfig struct {
	// Sinks are where usage events go; each gets every event.
	Sinks []SinkConfig `json:"sinks"`
	// BatchSize is the most events handed to a sink in one write (default 256).
	BatchSize int `json:"batch_size"`
}

// SinkConfig names a sink type and its settings.
type SinkConfig struct {
	// Type is jsonl or stdout.
	Type string `json:"type"`
	// Path is the jsonl file (created with its directories).
	Path string `json:"path"`
}

// Track is a completion stage: it turns every call's outcome into a usage
// event and hands it off to a queue that a background goroutine delivers to
// the sinks. The hand-off never blocks on I/O and never fails the call; a
// sink that fails is retried with backoff while events wait in the queue.
// Close flushes. Safe for concurrent use.
type Track struct {
	sinks     []core.Sink
	names     []string
	batchSize int
	log       *slog.Logger

	mu      sync.Mutex
	queue   []*core.UsageEvent
	wake    chan struct{}
	closed  bool
	stopped chan struct{}
	stop    chan struct{}
}

func newTrack(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := TrackConfig{BatchSize: 256}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	if len(cfg.Sinks) == 0 {
		return nil, fmt.Errorf("%s: config: sinks: at least one sink is required, e.g. {type: jsonl, path: data/usage.jsonl}", s.Path())
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("%s: config: batch_size: must be positive", s.Path())
	}
	var sinks []core.Sink
	var names []string
	var errs []error
	for i, sc := range cfg.Sinks {
		sink, err := newSink(sc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: config: sinks[%d]: %w", s.Path(), i, err))
			continue
		}
		sinks = append(sinks, sink)
		names = append(names, sc.Type)
	}
	if len(errs) > 0 {
		for _, sk := range sinks {
			sk.Close()
		}
		return nil, errors.Join(errs...)
	}
	return NewTrack(sinks, names, cfg.BatchSize, env.Log), nil
}

// NewTrack returns a track stage delivering to sinks and starts its
// delivery goroutine.
func NewTrack(sinks []core.Sink, names []string, batchSize int, log *slog.Logger) *Track {
	if log == nil {
		log = slog.Default()
	}
	t := &Track{sinks: sinks, names: names, batchSize: batchSize, log: log,
		wake: make(chan struct{}, 1), stopped: make(chan struct{}), stop: make(chan struct{})}
	go t.run()
	return t
}

// Complete queues the outcome's usage event. It does not block on I/O.
func (t *Track) Complete(o *core.Outcome) {
	ev := core.NewUsageEvent(o)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.log.Error("usage event after shutdown, not delivered", "id", ev.ID)
		return
	}
	t.queue = append(t.queue, ev)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events until Close.
func (t *Track) run() {
	defer close(t.stopped)
	backoff := 100 * time.Millisecond
	for {
		batch := t.peek()
		if len(batch) == 0 {
			select {
			case <-t.wake:
				continue
			case <-t.stop:
				return
			}
		}
		if err := t.deliver(context.Background(), batch); err != nil {
			t.log.Warn("usage delivery failed; will retry", "events", len(batch), "retry_in", backoff, "err", err)
			select {
			case <-time.After(backoff):
			case <-t.stop:
				return
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		t.drop(len(batch))
	}
}

// peek returns up to a batch of the oldest queued events.
func (t *Track) peek() []*core.UsageEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := min(len(t.queue), t.batchSize)
	return t.queue[:n:n]
}

// drop removes n delivered events from the front of the queue.
func (t *Track) drop(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.queue[:n])
	t.queue = t.queue[n:]
	if len(t.queue) == 0 {
		t.queue = nil
	}
}

// deliver writes a batch to every sink.
//
// Until the durable outbox lands, a sink that fails makes the whole batch
// wait, so a healthy sink may see it again: sinks deduplicate by event id.
func (t *Track) deliver(ctx context.Context, batch []*core.UsageEvent) error {
	var errs []error
	for i, s := range t.sinks {
		if err := s.Write(ctx, batch); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", t.names[i], err))
		}
	}
	return errors.Join(errs...)
}

// Pending reports how many events wait for delivery.
func (t *Track) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// Close stops accepting events, delivers what is queued until ctx is done,
// and closes the sinks. Events it could not deliver are reported in the error.
func (t *Track) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.stopped
	var errs []error
	for {
		batch := t.peek()
		if len(batch) == 0 {
			break
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("track: %d usage events not delivered before the shutdown deadline", t.Pending()))
			break
		}
		if err := t.deliver(ctx, batch); err != nil {
			errs = append(errs, fmt.Errorf("track: %d usage events not delivered: %w", t.Pending(), err))
			break
		}
		t.drop(len(batch))
	}
	for i, s := range t.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", t.names[i], err))
		}
	}
	return errors.Join(errs...)
}

var (
	_ core.Completer  = (*Track)(nil)
	_ pipeline.Closer = (*Track)(nil)
)
