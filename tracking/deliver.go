package tracking

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
)

// RawSink is implemented by a sink that can take events as the JSON the
// outbox stored them in — one object per event, in the usage-event schema —
// saving a decode and an encode per event. The built-in sinks do; the
// outbox prefers it to [core.Sink.Write].
//
// The events' bytes are valid only until WriteJSON returns: the outbox
// reads the next batch into the same memory. A sink that keeps an event
// beyond the call copies it (the built-in sinks copy each batch into their
// request or file buffer). Events given to [core.Sink.Write] are decoded
// afresh for each call and may be kept.
type RawSink interface {
	WriteJSON(ctx context.Context, events [][]byte) error
}

// sinkState is what a database knows about one sink's queue, shared by
// whichever worker delivers it (after a reload, the newest).
type sinkState struct {
	name   string
	stage  string
	wake   chan struct{}
	worker atomic.Pointer[worker]

	backlog      atomic.Int64 // bytes stored: queue and dead letters
	queued       atomic.Int64
	dead         atomic.Int64
	droppedTotal atomic.Int64
	delivered    atomic.Int64

	full        atomic.Bool
	lastFullLog atomic.Int64
	maxBacklog  atomic.Int64

	failing      atomic.Bool
	failingSince atomic.Int64 // unix nanos
	lastErr      atomic.Pointer[string]
	lastFailLog  atomic.Int64
}

func (st *sinkState) notify() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// checkFull clears the full flag once the backlog is below 90% of its bound.
func (st *sinkState) checkFull(o *Outbox) {
	if st.full.Load() && st.backlog.Load() < st.maxBacklog.Load()/10*9 {
		if st.full.CompareAndSwap(true, false) {
			o.log.Info("usage outbox has room again: events are stored for this sink", "sink", st.name,
				"backlog_bytes", st.backlog.Load(), "dropped_total", st.droppedTotal.Load())
		}
	}
}

// register creates the outbox's sink queues and workers; a sink name owned
// by another live stage is an error, one owned by the same stage (a reload)
// is taken over.
func (db *DB) register(o *Outbox) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	seen := map[string]bool{}
	for _, sc := range o.cfg.Sinks {
		if sc.Name == "" || strings.ContainsAny(sc.Name, "\x00/") {
			return fmt.Errorf("tracking: sink name %q: want a non-empty name without / ", sc.Name)
		}
		if seen[sc.Name] {
			return fmt.Errorf("tracking: two sinks are named %q: give each a distinct name", sc.Name)
		}
		seen[sc.Name] = true
		if st, ok := db.sinks[sc.Name]; ok && st.worker.Load() != nil && st.stage != o.cfg.Stage {
			return fmt.Errorf("tracking: sink name %q is already used by stage %s: sink names are unique across track stages", sc.Name, st.stage)
		}
	}
	if o.cfg.Ledger && db.ledgerOwner != "" && db.ledgerOwner != o.cfg.Stage {
		return fmt.Errorf("tracking: the usage ledger is already fed by stage %s: set ledger: false on one of the track stages, or usage would be counted twice", db.ledgerOwner)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, sc := range o.cfg.Sinks {
			if _, err := tx.Bucket(bucketQueues).CreateBucketIfNotExists([]byte(sc.Name)); err != nil {
				return err
			}
			if _, err := tx.Bucket(bucketDead).CreateBucketIfNotExists([]byte(sc.Name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tracking: %w", err)
	}
	for _, sc := range o.cfg.Sinks {
		st, ok := db.sinks[sc.Name]
		if !ok {
			st = &sinkState{name: sc.Name, wake: make(chan struct{}, 1)}
			if err := db.countSink(st); err != nil {
				return err
			}
			db.sinks[sc.Name] = st
		}
		st.stage = o.cfg.Stage
		st.maxBacklog.Store(o.cfg.MaxBacklogBytes)
		w := newWorker(o, st, sc)
		if prev := st.worker.Swap(w); prev != nil {
			// A reload: the new worker starts where the old one stops.
			w.prev = prev
			close(prev.superseded)
		}
		o.workers = append(o.workers, w)
	}
	if o.cfg.Ledger {
		db.ledgerOwner = o.cfg.Stage
	}
	db.outboxes[o] = struct{}{}
	return nil
}

// unregister forgets a closed outbox's claims.
func (db *DB) unregister(o *Outbox) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, w := range o.workers {
		w.st.worker.CompareAndSwap(w, nil)
	}
	if o.cfg.Ledger && db.ledgerOwner == o.cfg.Stage {
		db.ledgerOwner = ""
		for other := range db.outboxes {
			if other != o && other.cfg.Ledger {
				db.ledgerOwner = other.cfg.Stage
			}
		}
	}
	delete(db.outboxes, o)
}

// countSink reads a sink's stored totals.
func (db *DB) countSink(st *sinkState) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		for _, b := range []struct {
			bucket []byte
			n      *atomic.Int64
		}{{bucketQueues, &st.queued}, {bucketDead, &st.dead}} {
			sub := tx.Bucket(b.bucket).Bucket([]byte(st.name))
			if sub == nil {
				continue
			}
			var n, size int64
			sub.ForEach(func(_, v []byte) error {
				n++
				size += int64(len(v))
				return nil
			})
			b.n.Store(n)
			st.backlog.Add(size)
		}
		if v := tx.Bucket(bucketDropped).Get([]byte(st.name)); len(v) == 8 {
			st.droppedTotal.Store(int64(beUint64(v)))
		}
		return nil
	})
}

// worker delivers one sink's queue.
type worker struct {
	o    *Outbox
	st   *sinkState
	sink core.Sink
	cfg  SinkConfig

	ctx        context.Context
	cancel     context.CancelFunc
	closing    chan struct{}
	done       chan struct{}
	superseded chan struct{} // a reload's worker took the queue over
	// prev is the worker this one took over from: it starts once prev is
	// done, reading past what prev delivered, whose acks may not be
	// committed yet — else a reload would deliver those events twice.
	prev *worker

	bo       *backoff.ExponentialBackOff
	attempts int
	// limit, when not 0, caps the next batch: a batch the sink refused is
	// sent again in halves, down to single events, so that only the events
	// it refuses go to dead letters; each batch taken doubles it back.
	limit int
	// next is where the next read starts: past what was delivered or
	// dead-lettered, whose removal may still wait for the writer.
	next []byte

	// Reused from batch to batch: a batch lives until the next read.
	block  []byte   // the events read, copied out of the read transaction
	batch  []stored // slices of block
	values [][]byte // the batch as RawSink takes it
}

func newWorker(o *Outbox, st *sinkState, sc SinkConfig) *worker {
	if sc.MaxEvents <= 0 {
		sc.MaxEvents = 1000
	}
	if sc.Retry.Initial <= 0 {
		sc.Retry.Initial = DefaultInitialBackoff
	}
	if sc.Retry.Max <= 0 {
		sc.Retry.Max = DefaultMaxBackoff
	}
	if sc.Retry.MaxAttempts <= 0 {
		sc.Retry.MaxAttempts = DefaultMaxAttempts
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.Multiplier, bo.RandomizationFactor = sc.Retry.Initial, sc.Retry.Max, 2, 0.5
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{o: o, st: st, sink: sc.Sink, cfg: sc, ctx: ctx, cancel: cancel,
		closing: make(chan struct{}), done: make(chan struct{}), superseded: make(chan struct{}), bo: bo}
}

// splitAfterFailures is how many failed attempts in a row a batch gets
// before it is sent in halves: enough that a passing failure (a restart,
// a timeout) does not shrink batches, few enough that an event the receiver
// fails on is found well within the default max_attempts.
const splitAfterFailures = 3

// stored is one queued event as read from the database.
type stored struct {
	key   []byte
	value []byte
}

// run delivers until Close: batches of up to MaxEvents, waiting up to
// MaxAge for a batch to fill; on failure it backs off with jitter, and
// after MaxAttempts (or a rejection) it moves the batch to dead letters.
// Closing, it delivers what it can and stops at the first failure.
func (w *worker) run() {
	defer close(w.done)
	defer w.cancel()
	if w.prev != nil {
		select {
		case <-w.prev.done:
			w.next = w.prev.next
		case <-w.ctx.Done():
			return
		}
		w.prev = nil
	}
	var waitingSince time.Time
	for {
		if w.st.worker.Load() != w { // superseded by a reload
			w.st.notify() // the wake-up this worker took may have been the new one's
			return
		}
		size := w.cfg.MaxEvents
		if w.limit > 0 {
			size = w.limit
		}
		batch, err := w.read(size)
		if err != nil {
			w.o.log.Error("usage outbox: cannot read a sink's queue", "sink", w.st.name, "err", err)
			if !w.sleep(time.Second) {
				return
			}
			continue
		}
		closing := isClosed(w.closing)
		if len(batch) == 0 {
			if closing {
				return
			}
			select {
			case <-w.st.wake:
			case <-w.closing:
			case <-w.superseded:
			case <-w.ctx.Done():
				return
			}
			continue
		}
		if !closing && len(batch) < size && w.cfg.MaxAge > 0 {
			if waitingSince.IsZero() {
				waitingSince = time.Now()
			}
			if rem := w.cfg.MaxAge - time.Since(waitingSince); rem > 0 {
				if !w.fill(rem) {
					return
				}
				continue
			}
		}
		waitingSince = time.Time{}
		if !w.deliver(batch) {
			return
		}
	}
}

// fill waits up to d for a batch to fill. A commit's wake-up does not end
// the wait unless a full batch is queued: reading the queue on each commit
// (every 25 ms) would read a 100 ms batch four times over. It reports false
// when the worker must stop.
func (w *worker) fill(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-w.st.wake:
			if w.st.queued.Load() >= int64(w.cfg.MaxEvents) {
				return true
			}
		case <-t.C:
			return true
		case <-w.closing:
			return true
		case <-w.superseded:
			return true
		case <-w.ctx.Done():
			return false
		}
	}
}

// deliver writes one batch and settles it; it reports whether to go on.
func (w *worker) deliver(batch []stored) bool {
	settled := func() { w.next = binary.BigEndian.AppendUint64(w.next[:0], beUint64(batch[len(batch)-1].key)+1) }
	var err error
	good := batch
	if raw, ok := w.sink.(RawSink); ok {
		// Queues also hold plugins' payloads, any JSON value: JSON is all
		// a stored value can be checked for here.
		good = w.setAsideDamaged(batch, func(s stored) bool { return json.Valid(s.value) })
		values := w.values[:0]
		for _, s := range good {
			values = append(values, s.value)
		}
		w.values = values
		if len(good) > 0 {
			err = w.call(func() error { return raw.WriteJSON(w.ctx, values) })
		}
	} else {
		events := make([]*core.UsageEvent, 0, len(batch))
		good = w.setAsideDamaged(batch, func(s stored) bool {
			ev := new(core.UsageEvent)
			if err := json.Unmarshal(s.value, ev); err != nil || ev.ID == "" {
				return false
			}
			events = append(events, ev)
			return true
		})
		if len(good) > 0 {
			err = w.call(func() error { return w.sink.Write(w.ctx, events) })
		}
	}
	if len(good) == 0 {
		settled()
		return true
	}
	var whole interface{ BatchRefused() bool }
	switch {
	case err == nil:
		w.o.addAcks(w.st, good)
		settled()
		w.attempts = 0
		w.bo.Reset()
		if w.limit > 0 {
			if w.limit *= 2; w.limit >= w.cfg.MaxEvents {
				w.limit = 0
			}
		}
		if w.st.failing.Swap(false) {
			w.o.log.Info("usage sink recovered", "sink", w.st.name,
				"failed_for", time.Since(time.Unix(0, w.st.failingSince.Load())).Round(time.Millisecond))
		}
		return true
	case w.ctx.Err() != nil:
		return false // cut off by Close's deadline: not an attempt
	case errors.Is(err, core.ErrSinkRejected) && len(good) > 1 && !(errors.As(err, &whole) && whole.BatchRefused()):
		// Some event of the batch may be one the sink will never take:
		// send the batch again in halves, so that the others still go.
		if w.limit == 0 {
			w.o.log.Warn("usage sink refused a batch; sending it again in halves to set aside only the events it refuses",
				"sink", w.st.name, "events", len(good), "err", err)
		}
		w.limit = len(good) / 2
		w.fail(err)
		return true
	case errors.Is(err, core.ErrSinkRejected):
		w.attempts = 0
		w.fail(err)
		w.deadLetter(good, err.Error(), 1)
		settled()
		return true
	}
	w.attempts++
	w.fail(err)
	if w.attempts >= w.cfg.Retry.MaxAttempts {
		w.deadLetter(good, fmt.Sprintf("gave up after %d attempts: %v", w.attempts, err), w.attempts)
		settled()
		w.attempts = 0
		return true
	}
	if w.attempts >= splitAfterFailures && len(good) > 1 {
		// A receiver failing a batch again and again may be failing on one
		// of its events (a tracker's 500 on an event it cannot handle):
		// the next attempts send it in halves, so that the events around
		// that one are delivered and, at max_attempts, only it goes to dead
		// letters. In an outage, the batch set aside is as small.
		if w.limit == 0 {
			w.o.log.Warn("usage sink keeps failing a batch; sending it in halves so that one event it cannot take does not hold back the others",
				"sink", w.st.name, "events", len(good), "attempts", w.attempts, "err", err)
		}
		w.limit = len(good) / 2
	}
	if isClosed(w.closing) {
		return false
	}
	d := w.bo.NextBackOff()
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > d {
		d = min(ra.RetryAfter(), w.cfg.Retry.Max)
	}
	w.logFailure(err, len(good), d)
	return w.sleep(d)
}

// setAsideDamaged moves the events of batch that readable refuses to dead
// letters, and returns the others: batch itself when all are readable.
func (w *worker) setAsideDamaged(batch []stored, readable func(stored) bool) []stored {
	var good, bad []stored
	for i, s := range batch {
		if readable(s) {
			if bad != nil {
				good = append(good, s)
			}
			continue
		}
		if bad == nil {
			good = append([]stored(nil), batch[:i]...)
		}
		bad = append(bad, s)
	}
	if bad == nil {
		return batch
	}
	w.deadLetter(bad, damagedReason, 0)
	return good
}

// call runs a sink write, turning a panic into an error.
func (w *worker) call(write func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sink panicked: %v", r)
		}
	}()
	return write()
}

func (w *worker) fail(err error) {
	msg := err.Error()
	w.st.lastErr.Store(&msg)
	if !w.st.failing.Swap(true) {
		w.st.failingSince.Store(time.Now().UnixNano())
	}
}

// logFailure logs the first failure of a run, then at most once a minute.
func (w *worker) logFailure(err error, n int, retryIn time.Duration) {
	now := time.Now().UnixNano()
	if w.attempts > 1 && now-w.st.lastFailLog.Load() < int64(time.Minute) {
		return
	}
	w.st.lastFailLog.Store(now)
	w.o.log.Warn("usage delivery failed; will retry", "sink", w.st.name, "events", n, "attempt", w.attempts,
		"max_attempts", w.cfg.Retry.MaxAttempts, "retry_in", retryIn.Round(time.Millisecond), "queued", w.st.queued.Load(), "err", err)
}

// sleep waits d, or returns false when Close or its deadline interrupts.
func (w *worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.closing:
		return false
	case <-w.superseded:
		return false
	case <-w.ctx.Done():
		return false
	}
}

// read returns up to n of the oldest queued events, copied out of the
// read transaction into the worker's block. The batch is valid until the
// next read, which reuses the block.
func (w *worker) read(n int) ([]stored, error) {
	out, buf := w.batch[:0], w.block[:0]
	err := w.o.db.bolt.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueues).Bucket([]byte(w.st.name))
		if q == nil {
			return nil
		}
		c := q.Cursor()
		k, v := c.First()
		if w.next != nil {
			k, v = c.Seek(w.next)
		}
		// When append moves buf, the events already copied stay where
		// they are, in memory no one writes to any more.
		for ; k != nil && len(out) < n; k, v = c.Next() {
			buf = append(buf, k...)
			key := buf[len(buf)-len(k) : len(buf) : len(buf)]
			buf = append(buf, v...)
			out = append(out, stored{key: key, value: buf[len(buf)-len(v) : len(buf) : len(buf)]})
		}
		return nil
	})
	w.batch, w.block = out, buf
	if cap(buf) > maxReadBlock { // an exceptional batch: not kept for good
		w.batch, w.block = nil, nil
	}
	return out, err
}

// maxReadBlock is the largest read block a worker keeps between batches:
// 1000 usage events take about 700 KiB; a batch of larger payloads gets a
// block of its own, as it did before blocks were reused.
const maxReadBlock = 1 << 20

// deadLetter moves events from the queue to the sink's dead letters.
func (w *worker) deadLetter(batch []stored, reason string, attempts int) {
	now := time.Now().UTC()
	var moved int64
	var delta int64
	err := w.o.db.bolt.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueues).Bucket([]byte(w.st.name))
		d := tx.Bucket(bucketDead).Bucket([]byte(w.st.name))
		moved, delta = 0, 0
		for _, s := range batch {
			if q.Get(s.key) == nil {
				continue
			}
			rec, err := json.Marshal(deadRecord{Reason: reason, Attempts: attempts, FailedAt: now, Event: rawEvent(s.value)})
			if err != nil {
				return err
			}
			if err := d.Put(s.key, rec); err != nil {
				return err
			}
			if err := q.Delete(s.key); err != nil {
				return err
			}
			moved++
			delta += int64(len(rec) - len(s.value))
		}
		return nil
	})
	if err != nil {
		w.o.log.Error("usage outbox: cannot move events to dead letters; they stay queued", "sink", w.st.name, "err", err)
		return
	}
	w.st.queued.Add(-moved)
	w.st.dead.Add(moved)
	w.st.backlog.Add(delta)
	w.o.log.Error("usage events moved to dead letters; list them with `tollgate usage dead-letters`, resend with `tollgate usage replay`",
		"sink", w.st.name, "events", moved, "reason", reason)
}

// damagedReason is the reason of a dead letter whose stored bytes are no
// event: Replay puts those bytes back as they were.
const damagedReason = "the stored event cannot be decoded (damaged on disk)"

// rawEvent keeps a stored event as JSON if it is JSON, else as a string.
func rawEvent(v []byte) json.RawMessage {
	if json.Valid(v) {
		return json.RawMessage(clone(v))
	}
	b, _ := json.Marshal(string(v))
	return b
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
