package tracking_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/tracking"
	"github.com/tollgate-dev/tollgate/tracking/sinks"
	"github.com/tollgate-dev/tollgate/tracking/trackertest"
)

// queueWhileDown stores n events for the sink "tracker" while tr is down,
// so that they wait in one queue, and returns their ids.
func queueWhileDown(t *testing.T, dir string, tr *trackertest.Server, n int) []string {
	t.Helper()
	tr.Down(http.StatusServiceUnavailable)
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	if err != nil {
		t.Fatal(err)
	}
	ids := enqueue(ob, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tr.Up()
	return ids
}

// TestPoisonEventIsSetAsideAlone: a tracker that refuses one event (400)
// refuses every batch holding it. The refused event goes to dead letters
// by itself; the events batched with it, before and after, are delivered,
// in order.
func TestPoisonEventIsSetAsideAlone(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	ids := queueWhileDown(t, dir, tr, 40)
	poison := ids[13]
	tr.Refuse(poison)
	db := open(t, dir)
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	checkSetAsideAlone(t, db, tr, ids, 13, "400", "refused event "+poison)
}

// checkSetAsideAlone waits for the sink "tracker" to have nothing queued,
// then checks that ids[i] alone is in its dead letters, for a reason that
// holds every one of reason, and that tr got the other ids, in order.
func checkSetAsideAlone(t *testing.T, db *tracking.DB, tr *trackertest.Server, ids []string, i int, reason ...string) {
	t.Helper()
	waitFor(t, func() bool { st := db.Stats().Sinks[0]; return st.Queued == 0 })
	dls, err := db.DeadLetters(tracking.Selector{Sink: "tracker"}, 0)
	if err != nil || len(dls) != 1 || dls[0].ID != ids[i] {
		t.Fatalf("dead letters = %v, %v; want %s alone", deadIDs(dls), err, ids[i])
	}
	for _, r := range reason {
		if !strings.Contains(dls[0].Reason, r) {
			t.Errorf("dead letter reason %q: want %q in it", dls[0].Reason, r)
		}
	}
	var got []string
	for _, ev := range tr.Events() {
		got = append(got, ev.ID)
	}
	want := slices.Delete(slices.Clone(ids), i, i+1)
	if !slices.Equal(got, want) {
		t.Errorf("tracker got %d events %v\nwant the other %d in order %v", len(got), got, len(want), want)
	}
}

// TestEventATrackerFailsOnIsSetAsideAlone: a tracker that answers 500 to
// every batch holding one event (it breaks on it) is retried; after a few
// failures the batch is sent in halves, so the events around that one are
// delivered in order and, at max_attempts, only it goes to dead letters.
func TestEventATrackerFailsOnIsSetAsideAlone(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	ids := queueWhileDown(t, dir, tr, 40)
	poison := ids[29]
	tr.FailOn(http.StatusInternalServerError, poison)
	db := open(t, dir)
	retry := tracking.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 20}
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, retry)}})
	checkSetAsideAlone(t, db, tr, ids, 29, "gave up after 20 attempts", "500", "refused event "+poison)
}

// TestOutageSetsAsideOneEventAtATime: while a tracker is down, a batch
// that reaches max_attempts has been halved down to one event: an outage
// longer than the attempts moves events to dead letters one by one, not a
// hundred at a time, and once the tracker is back the batches grow again.
func TestOutageSetsAsideOneEventAtATime(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	queueWhileDown(t, dir, tr, 40)
	tr.Down(http.StatusServiceUnavailable)
	db := open(t, dir)
	retry := tracking.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 12}
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, retry)}})
	waitFor(t, func() bool { return db.Stats().Sinks[0].DeadLetters >= 1 })
	tr.Up()
	waitFor(t, func() bool { st := db.Stats().Sinks[0]; return st.Queued == 0 })
	if dead := db.Stats().Sinks[0].DeadLetters; dead > 2 {
		t.Fatalf("%d events went to dead letters in the outage; want one (two if the tracker came back between)", dead)
	}
	batches := tr.Batches()
	if len(batches) < 2 || batches[len(batches)-1] <= batches[0] {
		t.Errorf("batches after the outage %v: want them to grow back", batches)
	}
}

// TestRefusingTrackerDeadLettersEveryEvent: a tracker that refuses every
// batch (a bad token) sends every event to dead letters, each with the
// tracker's answer, in one request.
func TestRefusingTrackerDeadLettersEveryEvent(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	ids := queueWhileDown(t, dir, tr, 20)
	tr.Down(http.StatusForbidden)
	db := open(t, dir)
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	waitFor(t, func() bool { return db.Stats().Sinks[0].DeadLetters == int64(len(ids)) })
	if tr.Distinct() != 0 {
		t.Errorf("the refusing tracker stored %d events", tr.Distinct())
	}
	// A 403 refuses the request, not an event in it: splitting the batch
	// could not help, and would send the tracker one request per event.
	if tr.Posts() != 1 {
		t.Errorf("the tracker got %d POSTs, want the one batch", tr.Posts())
	}
	dls, _ := db.DeadLetters(tracking.Selector{}, 0)
	for _, dl := range dls {
		if !strings.Contains(dl.Reason, "403") {
			t.Errorf("dead letter %s: reason %q", dl.ID, dl.Reason)
		}
	}
}

// damageQueued overwrites the stored bytes of the i-th event queued for
// sink with v, as a damaged disk or a cut-short write would leave them.
func damageQueued(t *testing.T, dir, sink string, i int, v string) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, "usage.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket([]byte("queues")).Bucket([]byte(sink))
		c := q.Cursor()
		k, _ := c.First()
		for range i {
			k, _ = c.Next()
		}
		return q.Put(k, []byte(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStoredEventIsDeadLettered: an event whose stored bytes are
// not an event any more goes to dead letters, named as damaged, with the
// bytes as they were; the events around it are delivered as they are,
// to a sink that takes stored JSON (http, jsonl) as to one that does not.
func TestDamagedStoredEventIsDeadLettered(t *testing.T) {
	for _, damage := range []string{`{"id":"ev-cut","input_tok`, "\x00\x01garbage"} {
		t.Run("http "+damage, func(t *testing.T) {
			dir := t.TempDir()
			tr := trackertest.NewServer(t)
			ids := queueWhileDown(t, dir, tr, 5)
			damageQueued(t, dir, "tracker", 2, damage)
			db := open(t, dir)
			newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
			waitFor(t, func() bool { return db.Stats().Sinks[0].Queued == 0 })
			checkDamagedSetAside(t, db, damage)
			if tr.Distinct() != 4 || tr.Has(ids[2]) {
				t.Errorf("tracker got %d events, want the 4 undamaged ones", tr.Distinct())
			}
		})
	}
	t.Run("sink taking decoded events", func(t *testing.T) {
		dir := t.TempDir()
		tr := trackertest.NewServer(t)
		queueWhileDown(t, dir, tr, 5)
		damageQueued(t, dir, "tracker", 2, `{"model":"no id"}`)
		rec := &recorder{}
		db := open(t, dir)
		newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{{Name: "tracker", Sink: rec.sink(), Retry: fastRetry}}})
		waitFor(t, func() bool { return db.Stats().Sinks[0].Queued == 0 })
		checkDamagedSetAside(t, db, `{"model":"no id"}`)
		if rec.count() != 4 {
			t.Errorf("the sink got %d events, want the 4 undamaged ones", rec.count())
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		dir := t.TempDir()
		tr := trackertest.NewServer(t)
		queueWhileDown(t, dir, tr, 5)
		damage := `{"id":"ev-cut","input_tok`
		damageQueued(t, dir, "tracker", 2, damage)
		db, path := jsonlOutbox(t, dir)
		waitFor(t, func() bool { return db.Stats().Sinks[0].Queued == 0 })
		checkDamagedSetAside(t, db, damage)
		data, _ := os.ReadFile(path)
		if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) != 4 || strings.Contains(string(data), "ev-cut") {
			t.Errorf("usage.jsonl has %d lines, want the 4 undamaged events:\n%s", len(lines), data)
		}
	})
}

func checkDamagedSetAside(t *testing.T, db *tracking.DB, damage string) {
	t.Helper()
	dls, err := db.DeadLetters(tracking.Selector{Sink: "tracker"}, 0)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %v, %v; want the damaged event alone", deadIDs(dls), err)
	}
	if !strings.Contains(dls[0].Reason, "cannot be decoded") {
		t.Errorf("dead letter reason %q: want it named as damaged", dls[0].Reason)
	}
	var kept string
	if json.Unmarshal(dls[0].Event, &kept) != nil {
		kept = string(dls[0].Event)
	}
	if kept != damage {
		t.Errorf("dead letter keeps %s, want the stored bytes %q", dls[0].Event, damage)
	}
}

// deadIDs lists dead letters' ids, for a failure's message.
func deadIDs(dls []tracking.DeadLetter) []string {
	var ids []string
	for _, dl := range dls {
		ids = append(ids, fmt.Sprintf("%q (%s)", dl.ID, dl.Reason))
	}
	return ids
}

// TestReloadDoesNotSayEventsWaitForTheNextStart: closing the outbox a
// reload replaced hands its queues to the new one, which delivers them
// now; its log must not tell an operator they wait for a restart.
func TestReloadDoesNotSayEventsWaitForTheNextStart(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Down(http.StatusServiceUnavailable)
	db := open(t, t.TempDir())
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	ob1, err := db.NewOutbox(tracking.Config{Stage: "track", Log: log, Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(ob1, 5)
	waitPersisted(t, ob1)
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	if err := ob1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "next start") {
		t.Errorf("the replaced outbox's close logged:\n%s", logged.String())
	}
	tr.Up()
	if !tr.WaitDistinct(5, 10*time.Second) {
		t.Fatalf("the new outbox delivered %d of 5", tr.Distinct())
	}
}

// TestReplayedDamagedEventIsSetAsideAgain: a dead letter of a damaged
// event keeps its bytes as a JSON string; replaying every dead letter
// (after an incident, say) must not deliver that string as if it were an
// event — a line of a jsonl file that is no usage event — but set it
// aside again, as damaged.
func TestReplayedDamagedEventIsSetAsideAgain(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	queueWhileDown(t, dir, tr, 3)
	damage := `{"id":"ev-cut","input_tok`
	damageQueued(t, dir, "tracker", 1, damage)
	db, path := jsonlOutbox(t, dir)
	waitFor(t, func() bool { st := db.Stats().Sinks[0]; return st.Queued == 0 && st.DeadLetters == 1 })
	if n, err := db.Replay(tracking.Selector{Sink: "tracker"}); n != 1 || err != nil {
		t.Fatalf("replay = %d, %v", n, err)
	}
	waitFor(t, func() bool { st := db.Stats().Sinks[0]; return st.Queued == 0 && st.DeadLetters == 1 })
	checkDamagedSetAside(t, db, damage)
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev struct{ ID string }
		if json.Unmarshal([]byte(line), &ev) != nil || ev.ID == "" {
			t.Errorf("usage.jsonl has a line that is no usage event: %s", line)
		}
	}
}

// jsonlOutbox opens the outbox in dir with its queue "tracker" delivered
// to a jsonl file, and returns the file's path.
func jsonlOutbox(t *testing.T, dir string) (*tracking.DB, string) {
	t.Helper()
	path := filepath.Join(dir, "usage.jsonl")
	js, err := sinks.OpenJSONL(sinks.JSONLConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, dir)
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{{Name: "tracker", Sink: js, Retry: fastRetry}}})
	return db, path
}
