package tracking_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking"
	"github.com/tollgate-dev/tollgate/tracking/sinks"
	"github.com/tollgate-dev/tollgate/tracking/trackertest"
)

// fastRetry keeps retries quick in tests.
var fastRetry = tracking.RetryPolicy{Initial: 2 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 1000}

var quiet = slog.New(slog.DiscardHandler)

// open opens a database in dir, closed with the test.
func open(t *testing.T, dir string) *tracking.DB {
	t.Helper()
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// httpSinkB is an http sink posting to tr for benchmarks.
func httpSinkB(b *testing.B, url string, maxEvents int) tracking.SinkConfig {
	s, err := sinks.NewHTTP(sinks.HTTPConfig{URL: url}, "")
	if err != nil {
		b.Fatal(err)
	}
	return tracking.SinkConfig{Name: "tracker", Sink: s, MaxEvents: maxEvents}
}

// httpSink is an http sink posting to tr.
func httpSink(t *testing.T, tr *trackertest.Server, maxEvents int, retry tracking.RetryPolicy) tracking.SinkConfig {
	t.Helper()
	s, err := sinks.NewHTTP(sinks.HTTPConfig{URL: tr.EventsURL()}, "")
	if err != nil {
		t.Fatal(err)
	}
	return tracking.SinkConfig{Name: "tracker", Sink: s, MaxEvents: maxEvents, Retry: retry}
}

func newOutbox(t *testing.T, db *tracking.DB, cfg tracking.Config) *tracking.Outbox {
	t.Helper()
	if cfg.Stage == "" {
		cfg.Stage = "track"
	}
	if cfg.Log == nil {
		cfg.Log = quiet
	}
	ob, err := db.NewOutbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// bounded, so that a test whose events cannot be persisted fails
		// instead of waiting for the package's timeout
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ob.Close(ctx)
	})
	return ob
}

var evSeq int

func event(customer, model string, in, out int64) *core.UsageEvent {
	evSeq++
	return &core.UsageEvent{ID: fmt.Sprintf("ev-%06d", evSeq), Timestamp: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC),
		CustomerID: customer, Provider: "openai", Model: model, Operation: "chat.completions",
		InputTokens: in, OutputTokens: out, TotalTokens: in + out, Status: core.StatusOK, HTTPStatus: 200,
		Metadata: map[string]string{}}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func enqueue(ob *tracking.Outbox, n int) []string {
	ids := make([]string, n)
	for i := range n {
		ev := event("acme", "gpt-4o-mini", 10, 5)
		ids[i] = ev.ID
		ob.Enqueue(ev)
	}
	return ids
}

func waitPersisted(t *testing.T, ob *tracking.Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.WaitPersisted(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryUnderAFlappingTracker(t *testing.T) {
	tr := trackertest.NewServer(t)
	// fails, recovers, fails, recovers: posts 1-5 fail, 6-8 succeed, 9-14 fail, then succeed
	tr.Script(func(n int) int {
		switch {
		case n <= 5, n >= 9 && n <= 14:
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 7, fastRetry)}})
	var ids []string
	for range 10 { // events keep coming while the tracker flaps
		ids = append(ids, enqueue(ob, 20)...)
		time.Sleep(time.Millisecond)
	}
	if !tr.WaitDistinct(len(ids), 20*time.Second) {
		t.Fatalf("tracker has %d of %d events", tr.Distinct(), len(ids))
	}
	for _, id := range ids {
		if !tr.Has(id) {
			t.Errorf("event %s never arrived", id)
		}
	}
	for _, n := range tr.Batches() {
		if n > 7 {
			t.Errorf("a batch of %d events, want at most 7", n)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.Stats().Sinks[0].Queued != 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond) // the tracker has them; the acks may be on their way
	}
	if s := db.Stats(); s.Sinks[0].Queued != 0 || s.Sinks[0].DeadLetters != 0 {
		t.Errorf("stats after delivery: %+v", s.Sinks[0])
	}
}

func TestDuplicatesAreSuppressedByIDAtTheReceiver(t *testing.T) {
	tr := trackertest.NewServer(t)
	// The tracker stores the first two batches but the answers are lost:
	// the outbox sends them again, the tracker sees them twice.
	tr.Script(func(n int) int {
		if n <= 2 {
			return 0
		}
		return 200
	})
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 10, fastRetry)}})
	ids := enqueue(ob, 30)
	if !tr.WaitDistinct(len(ids), 10*time.Second) {
		t.Fatalf("tracker has %d of %d", tr.Distinct(), len(ids))
	}
	ob.Close(context.Background())
	if tr.Received() <= len(ids) {
		t.Errorf("received %d events for %d ids: the lost answers should have caused resends", tr.Received(), len(ids))
	}
	if tr.Distinct() != len(ids) {
		t.Errorf("distinct ids %d, want %d", tr.Distinct(), len(ids))
	}
}

func TestRetryableAnswers(t *testing.T) {
	for _, status := range []int{http.StatusRequestTimeout, http.StatusTooManyRequests, 500, 502, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			tr := trackertest.NewServer(t)
			tr.Script(func(n int) int {
				if n <= 3 {
					return status
				}
				return 200
			})
			db := open(t, t.TempDir())
			ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
			ids := enqueue(ob, 5)
			if !tr.WaitDistinct(len(ids), 10*time.Second) {
				t.Fatalf("tracker has %d of %d", tr.Distinct(), len(ids))
			}
			if s := db.Stats(); s.Sinks[0].DeadLetters != 0 {
				t.Errorf("%d dead letters for a retryable status", s.Sinks[0].DeadLetters)
			}
		})
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	tr := trackertest.NewServer(t)
	url := tr.EventsURL()
	tr.Close() // nothing listens: connection refused
	s, _ := sinks.NewHTTP(sinks.HTTPConfig{URL: url}, "")
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{{Name: "tracker", Sink: s, Retry: fastRetry}}})
	enqueue(ob, 3)
	waitPersisted(t, ob)
	deadline := time.Now().Add(10 * time.Second)
	for !db.Stats().Sinks[0].Failing && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := db.Stats().Sinks[0]
	if !st.Failing || st.Queued != 3 || st.DeadLetters != 0 || !strings.Contains(st.LastError, "connect") {
		t.Errorf("stats = %+v, want 3 queued, failing with a connection error", st)
	}
}

func TestRejectedBatchGoesToDeadLettersAndReplays(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Down(http.StatusBadRequest)
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	ids := enqueue(ob, 4)
	deadline := time.Now().Add(10 * time.Second)
	for db.Stats().Sinks[0].DeadLetters < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dls, err := db.DeadLetters(tracking.Selector{Sink: "tracker"}, 0)
	if err != nil || len(dls) != 4 {
		t.Fatalf("dead letters = %d, %v", len(dls), err)
	}
	for _, dl := range dls {
		if !strings.Contains(dl.Reason, "400") || !strings.Contains(dl.Reason, "scripted failure") || dl.Attempts != 1 {
			t.Errorf("dead letter %s: reason %q attempts %d", dl.ID, dl.Reason, dl.Attempts)
		}
	}
	// An id that is no dead letter (a typo, or replayed already) fails
	// the whole replay or purge, naming it: nothing moves.
	for _, move := range []func(tracking.Selector) (int, error){db.Replay, db.Purge} {
		n, err := move(tracking.Selector{Sink: "tracker", IDs: []string{ids[0], "evt_typo", "evt_typo"}})
		if !errors.Is(err, tracking.ErrNoDeadLetter) || n != 0 ||
			!strings.Contains(err.Error(), `of sink "tracker": "evt_typo"; nothing was changed`) {
			t.Fatalf("a replay or purge naming an id that is no dead letter = %d, %v", n, err)
		}
	}
	if st := db.Stats().Sinks[0]; st.DeadLetters != 4 {
		t.Fatalf("after a refused replay: %d dead letters, want all 4", st.DeadLetters)
	}
	tr.Up()
	n, err := db.Replay(tracking.Selector{Sink: "tracker", IDs: ids[:2]})
	if err != nil || n != 2 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	if !tr.WaitDistinct(2, 10*time.Second) {
		t.Fatal("replayed events did not arrive")
	}
	if tr.Has(ids[2]) || !tr.Has(ids[0]) || !tr.Has(ids[1]) {
		t.Errorf("replay sent the wrong events")
	}
	waitFor(t, func() bool { return db.Stats().Sinks[0].Queued == 0 })
	if n, _ := db.Purge(tracking.Selector{Sink: "tracker"}); n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	if st := db.Stats().Sinks[0]; st.DeadLetters != 0 || st.Queued != 0 {
		t.Errorf("after purge: %+v", st)
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Down(http.StatusServiceUnavailable)
	db := open(t, t.TempDir())
	retry := fastRetry
	retry.MaxAttempts = 3
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, retry)}})
	enqueue(ob, 2)
	deadline := time.Now().Add(10 * time.Second)
	for db.Stats().Sinks[0].DeadLetters < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dls, _ := db.DeadLetters(tracking.Selector{}, 0)
	if len(dls) != 2 || !strings.Contains(dls[0].Reason, "gave up after 3 attempts") || dls[0].Attempts != 3 {
		t.Fatalf("dead letters %+v", dls)
	}
}

// sinkFunc is a sink made of a function.
type sinkFunc func([]*core.UsageEvent) error

func (f sinkFunc) Write(_ context.Context, evs []*core.UsageEvent) error { return f(evs) }
func (f sinkFunc) Close() error                                          { return nil }

// recorder is a sink that keeps what it gets and fails while told to.
type recorder struct {
	mu   sync.Mutex
	ids  []string
	fail bool
}

func (r *recorder) sink() sinkFunc {
	return func(evs []*core.UsageEvent) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail {
			return errors.New("down")
		}
		for _, ev := range evs {
			r.ids = append(r.ids, ev.ID)
		}
		return nil
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func TestEachSinkIsDeliveredIndependently(t *testing.T) {
	up, down := &recorder{}, &recorder{fail: true}
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{
		{Name: "up", Sink: up.sink(), Retry: fastRetry}, {Name: "down", Sink: down.sink(), Retry: fastRetry}}})
	enqueue(ob, 50)
	deadline := time.Now().Add(10 * time.Second)
	for up.count() < 50 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if up.count() != 50 {
		t.Fatalf("the healthy sink got %d of 50 while the other was down", up.count())
	}
	down.mu.Lock()
	down.fail = false
	down.mu.Unlock()
	for down.count() < 50 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if down.count() != 50 || up.count() != 50 {
		t.Errorf("up %d, down %d; want 50 each and no resends to the healthy sink", up.count(), down.count())
	}
}

func TestQueuedEventsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	tr := trackertest.NewServer(t)
	tr.Down(http.StatusServiceUnavailable)
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	ids := enqueue(ob, 25)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.Close(ctx); err != nil { // persists all, delivers none
		t.Fatal(err)
	}
	db.Close()
	if ctx.Err() != nil {
		t.Fatal("Close waited for the failing tracker")
	}
	if tr.Distinct() != 0 {
		t.Fatalf("tracker got %d while down", tr.Distinct())
	}
	tr.Up()
	db2 := open(t, dir)
	if st := db2.Stats(); st.Sinks[0].Queued != 25 {
		t.Fatalf("after restart %d queued, want 25", st.Sinks[0].Queued)
	}
	newOutbox(t, db2, tracking.Config{Sinks: []tracking.SinkConfig{httpSink(t, tr, 100, fastRetry)}})
	if !tr.WaitDistinct(len(ids), 10*time.Second) {
		t.Fatalf("tracker has %d of %d after restart", tr.Distinct(), len(ids))
	}
}

func TestCloseDeliversWhatIsQueued(t *testing.T) {
	rec := &recorder{}
	db := open(t, t.TempDir())
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet,
		Sinks: []tracking.SinkConfig{{Name: "rec", Sink: rec.sink(), MaxEvents: 7, MaxAge: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(ob, 100)
	if err := ob.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 100 {
		t.Errorf("delivered %d of 100 at close (max_age must not hold a batch back at close)", rec.count())
	}
}

// hangingSink holds every write until its context is done, as a tracker
// that never answers does.
type hangingSink struct{ writing chan struct{} }

func (s hangingSink) Write(ctx context.Context, _ []*core.UsageEvent) error {
	select {
	case s.writing <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}
func (hangingSink) Close() error { return nil }

// A Close cut short — its ctx cancelled, the persist context alive —
// stops a sink that hangs at once, and still persists every event held
// in memory; all stay queued for the next start.
func TestCloseCutShortPersistsAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sink := hangingSink{writing: make(chan struct{}, 1)}
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, CommitInterval: time.Hour,
		Sinks: []tracking.SinkConfig{{Name: "tracker", Sink: sink}}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(ob, 1)
	waitPersisted(t, ob)
	<-sink.writing // being delivered; the writer now lingers an hour
	enqueue(ob, 20)
	if st := db.Stats(); st.InMemory != 20 {
		t.Fatalf("%d events in memory before Close, want 20", st.InMemory)
	}

	wait, cutShort := context.WithCancel(context.Background())
	cutShort()
	persist, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a timing
	defer cancel()
	if err := ob.Close(core.WithPersistContext(wait, persist)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if persist.Err() != nil {
		t.Fatal("Close waited for the hanging sink")
	}
	db.Close()
	db = open(t, dir)
	if st := db.Stats(); st.Sinks[0].Queued != 21 {
		t.Errorf("after Close %d events queued, want all 21", st.Sinks[0].Queued)
	}
}

func TestBatchingByCountAndAge(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	sink := sinkFunc(func(evs []*core.UsageEvent) error {
		mu.Lock()
		sizes = append(sizes, len(evs))
		mu.Unlock()
		return nil
	})
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{{Name: "s", Sink: sink, MaxEvents: 10, MaxAge: 50 * time.Millisecond}}})
	enqueue(ob, 25)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st := db.Stats().Sinks[0]; st.Delivered == 25 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	total, full := 0, 0
	for _, n := range sizes {
		total += n
		if n > 10 {
			t.Errorf("batch of %d, want at most 10", n)
		}
		if n == 10 {
			full++
		}
	}
	if total != 25 || full < 2 {
		t.Errorf("batches %v: want 25 events, at least two full batches of 10 and the rest sent by age", sizes)
	}
}

func TestBacklogBoundIsLoud(t *testing.T) {
	for _, policy := range []string{tracking.OnFullDrop, tracking.OnFullUnready} {
		t.Run(policy, func(t *testing.T) {
			down := &recorder{fail: true}
			db := open(t, t.TempDir())
			ob := newOutbox(t, db, tracking.Config{MaxBacklogBytes: 4096, OnFull: policy, Ledger: true,
				Sinks: []tracking.SinkConfig{{Name: "down", Sink: down.sink(), Retry: fastRetry}}})
			enqueue(ob, 100) // ~300 bytes each: far past 4 KiB
			waitPersisted(t, ob)
			st := db.Stats().Sinks[0]
			if !st.Full || st.Dropped == 0 || st.Queued+st.Dropped != 100 || st.BacklogBytes > 4096 {
				t.Fatalf("stats = %+v", st)
			}
			h := db.Health()
			if !strings.Contains(h.Detail, "sink down is FULL") || h.Ready != (policy == tracking.OnFullDrop) {
				t.Errorf("health = %+v", h)
			}
			// The ledger still counts every event, stored or dropped.
			rep, err := db.Usage(context.Background(), tracking.Query{Customer: "acme"})
			if err != nil || rep.Total.Requests != 100 {
				t.Errorf("ledger counts %d requests, want 100 (%v)", rep.Total.Requests, err)
			}
		})
	}
}

func TestSinkNamesAndLedgerOwnership(t *testing.T) {
	db := open(t, t.TempDir())
	newOutbox(t, db, tracking.Config{Stage: "track/a", Ledger: true, Sinks: []tracking.SinkConfig{{Name: "x", Sink: (&recorder{}).sink()}}})
	_, err := db.NewOutbox(tracking.Config{Stage: "track/b", Sinks: []tracking.SinkConfig{{Name: "x", Sink: (&recorder{}).sink()}}})
	if err == nil || !strings.Contains(err.Error(), "already used by stage track/a") {
		t.Errorf("shared sink name: %v", err)
	}
	_, err = db.NewOutbox(tracking.Config{Stage: "track/b", Ledger: true, Sinks: []tracking.SinkConfig{{Name: "y", Sink: (&recorder{}).sink()}}})
	if err == nil || !strings.Contains(err.Error(), "counted twice") {
		t.Errorf("second ledger feeder: %v", err)
	}
}

func TestCorruptFileIsRefusedAndRecovered(t *testing.T) {
	dir := t.TempDir()
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Ledger: true,
		Sinks: []tracking.SinkConfig{{Name: "down", Sink: (&recorder{fail: true}).sink(), Retry: fastRetry}}})
	ids := enqueue(ob, 200)
	ob.Close(context.Background())
	db.Close()

	path := filepath.Join(dir, tracking.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the header of every page that holds event 100: the
	// leaf in use among them (older copies sit in freed pages).
	for from := 0; ; {
		i := bytes.Index(data[from:], []byte(ids[100]))
		if i < 0 {
			break
		}
		page := (from + i) / 4096 * 4096
		copy(data[page+2:], []byte("garbage-garbage-garbage"))
		from = page + 4096
	}
	os.WriteFile(path, data, 0o600)

	_, err = tracking.Open(dir, tracking.WithLogger(quiet))
	if !errors.Is(err, tracking.ErrCorrupt) || !strings.Contains(err.Error(), "tollgate usage recover") {
		t.Fatalf("open of a damaged file: %v", err)
	}
	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rep.MovedTo); err != nil {
		t.Errorf("the damaged file was not kept: %v", err)
	}
	// Only the damaged page's events are lost; the ledger row survives.
	if n := rep.Copied["queues/down"]; n < 150 || n >= 200 || rep.Copied["ledger"] != 1 || len(rep.Problems) == 0 {
		t.Errorf("recover report %+v", rep)
	}
	// The queue's keys are consecutive: those either side of the damaged
	// page count what it held.
	if n := rep.Copied["queues/down"] + rep.Lost["queues/down"]; n != 200 || rep.Complete() {
		t.Errorf("copied %d and lost %d of 200 events", rep.Copied["queues/down"], rep.Lost["queues/down"])
	}
	db2 := open(t, dir) // starts again
	if st := db2.Stats(); st.Sinks[0].Queued != int64(rep.Copied["queues/down"]) {
		t.Errorf("after recover %+v", st.Sinks)
	}
}

func TestRecoverSalvagesAHealthyFile(t *testing.T) {
	dir := t.TempDir()
	db, _ := tracking.Open(dir, tracking.WithLogger(quiet))
	ob, _ := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Ledger: true,
		Sinks: []tracking.SinkConfig{{Name: "down", Sink: (&recorder{fail: true}).sink(), Retry: fastRetry}}})
	enqueue(ob, 30)
	ob.Close(context.Background())
	if _, err := tracking.Recover(dir); err == nil {
		t.Fatal("recover while the file is open in this process should fail")
	}
	db.Close()
	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied["queues/down"] != 30 || rep.Copied["ledger"] != 1 || len(rep.Problems) != 0 {
		t.Errorf("report %+v", rep)
	}
	db2 := open(t, dir)
	if st := db2.Stats(); st.Sinks[0].Queued != 30 {
		t.Errorf("after recover %+v", st.Sinks)
	}
}

// A reload builds the track stage again while the old one still finishes
// its calls: the new outbox takes the sinks over, and nothing is lost.
func TestReloadTakesTheSinksOver(t *testing.T) {
	db := open(t, t.TempDir())
	old, next := &recorder{}, &recorder{}
	ob1, err := db.NewOutbox(tracking.Config{Stage: "track", Ledger: true, Log: quiet,
		Sinks: []tracking.SinkConfig{{Name: "s", Sink: old.sink(), Retry: fastRetry}}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(ob1, 10)
	ob2 := newOutbox(t, db, tracking.Config{Stage: "track", Ledger: true,
		Sinks: []tracking.SinkConfig{{Name: "s", Sink: next.sink(), Retry: fastRetry}}})
	enqueue(ob1, 10) // calls still finishing on the old pipeline
	enqueue(ob2, 10)
	if err := ob1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	enqueue(ob2, 10)
	waitFor(t, func() bool { return db.Stats().Sinks[0].Queued == 0 && old.count()+next.count() >= 40 })
	seen := map[string]bool{}
	for _, r := range []*recorder{old, next} {
		r.mu.Lock()
		for _, id := range r.ids {
			seen[id] = true
		}
		r.mu.Unlock()
	}
	if len(seen) != 40 {
		t.Errorf("%d distinct events delivered across the reload, want 40", len(seen))
	}
	rep, _ := db.Usage(context.Background(), tracking.Query{})
	if rep.Total.Requests != 40 {
		t.Errorf("ledger counts %d, want 40", rep.Total.Requests)
	}
}

// TestCommitIntervalGroupsEvents shows the writer's interval: after a
// commit, events wait for the interval (here an hour) unless 512 of them
// wait or Close begins, so one transaction carries many events.
func TestCommitIntervalGroupsEvents(t *testing.T) {
	db := open(t, t.TempDir())
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, CommitInterval: time.Hour,
		Sinks: []tracking.SinkConfig{{Name: "discard", Sink: discard}}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(ob, 1)
	waitPersisted(t, ob) // an idle writer commits at once
	enqueue(ob, 511)
	time.Sleep(20 * time.Millisecond)
	if st := db.Stats(); st.Persisted != 1 || st.Commits != 1 {
		t.Fatalf("persisted %d in %d commits while the interval runs; want 1 in 1", st.Persisted, st.Commits)
	}
	enqueue(ob, 1) // the 512th waiting event ends the interval
	waitPersisted(t, ob)
	if st := db.Stats(); st.Persisted != 513 || st.Commits != 2 {
		t.Fatalf("persisted %d in %d commits; want 513 in 2", st.Persisted, st.Commits)
	}
	enqueue(ob, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Close ends the interval too; it fails if an event was not persisted.
	if err := ob.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCommitAtOnce shows the smallest interval: each event that finds the
// writer idle gets its own transaction.
func TestCommitAtOnce(t *testing.T) {
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{CommitInterval: time.Nanosecond,
		Sinks: []tracking.SinkConfig{{Name: "discard", Sink: discard}}})
	for range 5 {
		enqueue(ob, 1)
		waitPersisted(t, ob)
	}
	if st := db.Stats(); st.Commits != 5 {
		t.Fatalf("%d commits for 5 events handed off one at a time; want 5", st.Commits)
	}
}

// discard accepts every event.
var discard = sinkFunc(func([]*core.UsageEvent) error { return nil })
