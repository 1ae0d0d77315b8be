package tracking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/datasync"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

type discardSink struct{}

func (discardSink) Write(context.Context, []*core.UsageEvent) error { return nil }
func (discardSink) Close() error                                    { return nil }

// TestDiskFailureAndRecoveryAreLogged: while the usage file cannot be
// written (a full disk), each retry's error says how many events wait in
// memory, all of them and not one transaction's; when writes work again
// the outbox says so, and the events are persisted.
func TestDiskFailureAndRecoveryAreLogged(t *testing.T) {
	db, ob, full, logged := outboxOnAFailingDisk(t)
	defer func() {
		full.Store(false) // a failed check must not leave Close retrying for ever
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ob.Close(ctx)
	}()

	full.Store(true)
	enqueue := func(from, to int) {
		for i := from; i < to; i++ {
			ob.Enqueue(&core.UsageEvent{ID: fmt.Sprintf("ev-%d", i), CustomerID: "acme", Status: core.StatusOK})
		}
	}
	waitLogged := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logged.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("nothing logged with %s; logged:\n%s", s, logged.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	enqueue(0, 3)
	waitLogged("events_in_memory=3")
	enqueue(3, 5) // queued behind the transaction being retried
	waitLogged("events_in_memory=5")
	if !strings.Contains(logged.String(), "cannot write to disk") || !strings.Contains(logged.String(), "no space left on device") {
		t.Fatalf("the failure's log line does not say what failed:\n%s", logged.String())
	}
	if strings.Contains(logged.String(), "writes to disk again") {
		t.Fatalf("recovery logged while the disk still fails:\n%s", logged.String())
	}

	full.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.WaitPersisted(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "usage outbox writes to disk again") || !strings.Contains(logged.String(), "failed_for=") {
		t.Fatalf("writes working again were not logged:\n%s", logged.String())
	}
	if s := db.Stats(); s.PersistError != "" || s.InMemory != 0 {
		t.Fatalf("after recovery: persist error %q, %d events in memory", s.PersistError, s.InMemory)
	}
}

// TestCloseCutShortStillPersists: a Close cut short (its ctx cancelled,
// the persist context alive) while the disk fails keeps retrying until
// the disk works again and persists every event, instead of giving up
// at once: cutting a shutdown short stops waiting, never saving.
func TestCloseCutShortStillPersists(t *testing.T) {
	db, ob, full, logged := outboxOnAFailingDisk(t)
	full.Store(true)
	for i := range 3 {
		ob.Enqueue(&core.UsageEvent{ID: fmt.Sprintf("ev-%d", i), CustomerID: "acme", Status: core.StatusOK})
	}
	wait, cutShort := context.WithCancel(context.Background())
	cutShort()
	persist, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- ob.Close(core.WithPersistContext(wait, persist)) }()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logged.String(), "cannot write to disk") < 2 {
		if time.Now().After(deadline) {
			full.Store(false)
			t.Fatalf("no retries while the disk failed; logged:\n%s", logged.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	full.Store(false)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := db.Stats(); s.InMemory != 0 || s.Sinks[0].Queued+s.Sinks[0].Delivered != 3 {
		t.Errorf("after Close: %d in memory, sink %+v; want all 3 persisted", s.InMemory, s.Sinks[0])
	}
}

// outboxOnAFailingDisk opens a usage database, closed with the test, whose
// syncs fail with "no space left on device" while full is true, and an
// outbox on it logging to logged, with one sink that takes every event.
func outboxOnAFailingDisk(t *testing.T) (db *DB, ob *Outbox, full *atomic.Bool, logged *logbuf.Buffer) {
	t.Helper()
	full, logged = new(atomic.Bool), new(logbuf.Buffer)
	db, err := Open(t.TempDir(), WithLogger(slog.New(slog.DiscardHandler)), func(o *openOptions) {
		o.fdatasync = func(f *os.File) error {
			if full.Load() {
				return errors.New("no space left on device")
			}
			return datasync.Fdatasync(f)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob, err = db.NewOutbox(Config{Stage: "track", Log: slog.New(slog.NewTextHandler(logged, nil)),
		Sinks: []SinkConfig{{Name: "file", Sink: discardSink{}}}})
	if err != nil {
		t.Fatal(err)
	}
	return db, ob, full, logged
}
