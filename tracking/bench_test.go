package tracking_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/tracking"
)

func benchEvents(n int) []*core.UsageEvent {
	evs := make([]*core.UsageEvent, n)
	for i := range evs {
		evs[i] = &core.UsageEvent{ID: core.NewID(), Timestamp: time.Now().UTC(), CustomerID: fmt.Sprintf("cust-%d", i%50),
			Provider: "openai", Upstream: "openai", Model: "gpt-4o-mini", Operation: "chat.completions",
			InputTokens: 812, OutputTokens: 96, TotalTokens: 908, CachedInputTokens: 256, Status: core.StatusOK,
			HTTPStatus: 200, LatencyMS: 412.5, Metadata: map[string]string{"team": "ml"}}
	}
	return evs
}

// BenchmarkOutboxWrite measures persistence alone: events handed off and
// committed (one transaction and fsync per batch, ledger included). The
// sink fails once and then backs off for an hour, so delivery does not
// compete.
func BenchmarkOutboxWrite(b *testing.B) {
	idle := sinkFunc(func([]*core.UsageEvent) error { return errors.New("paused") })
	sc := tracking.SinkConfig{Name: "idle", Sink: idle, Retry: tracking.RetryPolicy{Initial: time.Hour, Max: time.Hour}}
	benchOutbox(b, sc, func(_ *tracking.DB, ob *tracking.Outbox) {
		if err := ob.WaitPersisted(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

// benchOutbox hands b.N events to an outbox with the one sink sc, waits
// for what the benchmark measures, and reports events/s.
func benchOutbox(b *testing.B, sc tracking.SinkConfig, wait func(*tracking.DB, *tracking.Outbox)) {
	db, err := tracking.Open(b.TempDir(), tracking.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// All b.N events are handed off at once: memory must hold them.
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Ledger: true, MaxMemoryEvents: b.N + 1,
		Sinks: []tracking.SinkConfig{sc}})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close(context.Background())
	evs := benchEvents(b.N)
	b.ResetTimer()
	start := time.Now()
	for _, ev := range evs {
		ob.Enqueue(ev)
	}
	wait(db, ob)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// countingTracker is the cheapest tracker on loopback: it counts the
// events of each batch and answers 200, so the figure is tollgate's side.
type countingTracker struct {
	*httptest.Server
	n    atomic.Int64
	done chan struct{}
	want int64
}

func newCountingTracker(b *testing.B, want int) *countingTracker {
	ct := &countingTracker{done: make(chan struct{}), want: int64(want)}
	ct.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if ct.n.Add(int64(bytes.Count(body, []byte(`{"id":`)))) >= ct.want && !isDone(ct.done) {
			close(ct.done)
		}
	}))
	b.Cleanup(ct.Close)
	return ct
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// BenchmarkDeliveryHTTP measures end to end: hand-off, persistence, and
// delivery to a tracker on loopback, in batches of max_events.
func BenchmarkDeliveryHTTP(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tr := newCountingTracker(b, b.N)
			benchDelivery(b, httpSinkB(b, tr.URL, batch), tr.done, tr.n.Load, false)
		})
	}
}

// BenchmarkFileSync is the kernel's price of the fsync every commit (and
// every jsonl batch) pays: a 4 KiB page rewritten, then synced. Its
// cpu-ns/op is why commits wait for commit_interval instead of running
// per event.
func BenchmarkFileSync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	defer benchcpu.Start(b)()
	i := 0
	for b.Loop() {
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// countingSink takes events as stored JSON and counts them: the cheapest
// sink, so that the figure is the outbox's own.
type countingSink struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (s *countingSink) WriteJSON(_ context.Context, events [][]byte) error {
	if s.n.Add(int64(len(events))) >= s.want && !isDone(s.done) {
		close(s.done)
	}
	return nil
}

func (s *countingSink) Write(context.Context, []*core.UsageEvent) error {
	return errors.New("countingSink takes JSON only")
}

func (s *countingSink) Close() error { return nil }

// BenchmarkDelivery measures the outbox end to end with a sink that costs
// nothing: hand-off, persistence, the worker's reads and the removal of
// the acknowledged events, in batches of max_events. Its B/op is what the
// outbox allocates per event.
func BenchmarkDelivery(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			sink := &countingSink{want: int64(b.N), done: make(chan struct{})}
			benchDelivery(b, tracking.SinkConfig{Name: "count", Sink: sink, MaxEvents: batch}, sink.done, sink.n.Load, true)
		})
	}
}

// benchDelivery measures the outbox with the one sink sc until the sink,
// whose done closes once it has all b.N events, got them; with acked,
// until the writer has also removed them from the queue.
func benchDelivery(b *testing.B, sc tracking.SinkConfig, done <-chan struct{}, delivered func() int64, acked bool) {
	benchOutbox(b, sc, func(db *tracking.DB, _ *tracking.Outbox) {
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("delivered %d of %d", delivered(), b.N)
		}
		// The acks are removed in the writer's next transaction.
		for acked && db.Stats().Sinks[0].Delivered < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
	})
}
