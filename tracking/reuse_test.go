package tracking_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking"
)

// keepSink keeps the events it is given, as core.Sink allows.
type keepSink struct {
	mu   sync.Mutex
	kept []*core.UsageEvent
}

func (s *keepSink) Write(_ context.Context, evs []*core.UsageEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = append(s.kept, evs...)
	return nil
}

func (s *keepSink) Close() error { return nil }

// copySink keeps a copy of the JSON it is given, as RawSink requires.
type copySink struct {
	mu  sync.Mutex
	ids []string
}

func (s *copySink) WriteJSON(_ context.Context, evs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range evs {
		s.ids = append(s.ids, string(b))
	}
	return nil
}

func (s *copySink) Write(context.Context, []*core.UsageEvent) error { return nil }
func (s *copySink) Close() error                                    { return nil }

// TestBatchesOutliveTheReadBlock: a worker reads each batch into the
// memory of the one before. Events a core.Sink kept, and acks still
// waiting for the writer's next commit (several batches of them, as the
// commit interval is long), must not change when it does.
func TestBatchesOutliveTheReadBlock(t *testing.T) {
	db := open(t, t.TempDir())
	keep, raw := &keepSink{}, &copySink{}
	ob := newOutbox(t, db, tracking.Config{CommitInterval: 300 * time.Millisecond, Sinks: []tracking.SinkConfig{
		{Name: "keep", Sink: keep, MaxEvents: 7}, {Name: "raw", Sink: raw, MaxEvents: 7}}})
	ids := enqueue(ob, 50)
	waitFor(t, func() bool {
		s := db.Stats()
		return s.Sinks[0].Delivered == 50 && s.Sinks[1].Delivered == 50
	})
	for _, s := range db.Stats().Sinks {
		if s.Queued != 0 || s.BacklogBytes != 0 {
			t.Errorf("sink %s: %d events, %d bytes still queued after all were acked", s.Name, s.Queued, s.BacklogBytes)
		}
	}
	if err := ob.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var kept, copied []string
	for _, ev := range keep.kept {
		kept = append(kept, ev.ID)
	}
	for _, b := range raw.ids {
		var ev core.UsageEvent
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			t.Fatalf("raw sink got %q: %v", b, err)
		}
		copied = append(copied, ev.ID)
	}
	if !slices.Equal(kept, ids) {
		t.Errorf("kept events %v, want %v", kept, ids)
	}
	if !slices.Equal(copied, ids) {
		t.Errorf("raw events %v, want %v", copied, ids)
	}
}
