package tracking

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/procs"
)

// Policies for a full backlog ([Config.OnFull]). Under both, an event copy
// that does not fit a sink's backlog is not stored for that sink; it is
// counted (per sink, persisted), logged at error level and shown in
// Stats and /readyz. The ledger still records it.
const (
	// OnFullDrop keeps the gateway ready while it drops.
	OnFullDrop = "drop"
	// OnFullUnready also makes /readyz answer 503, so that a load balancer
	// sends calls to another replica.
	OnFullUnready = "unready"
)

// Defaults of [Config] and [SinkConfig].
const (
	DefaultMaxBacklogBytes = 1 << 30
	DefaultMaxMemoryEvents = 100_000
	DefaultMaxAttempts     = 20
	DefaultInitialBackoff  = time.Second
	DefaultMaxBackoff      = 5 * time.Minute
	DefaultCommitInterval  = 25 * time.Millisecond
)

// maxTxEvents caps the events one transaction commits.
const maxTxEvents = 4096

// lingerEnough is the number of waiting events that ends a commit
// interval early: a transaction of this size already shares its fixed cost
// well.
const lingerEnough = 512

// Config configures an [Outbox].
type Config struct {
	// Stage names the owner (the track stage) in messages.
	Stage string
	// Sinks each get every event, delivered independently.
	Sinks []SinkConfig
	// MaxBacklogBytes bounds each sink's stored events, queued and dead
	// letters together (default 1 GiB).
	MaxBacklogBytes int64
	// MaxMemoryEvents bounds the events handed off but not yet persisted
	// (default 100000); beyond it events are dropped, loudly.
	MaxMemoryEvents int
	// OnFull is OnFullDrop (default) or OnFullUnready.
	OnFull string
	// CommitInterval is the least time between the starts of two
	// transactions (default 25ms; negative: commit as soon as anything
	// waits). A transaction's fixed cost — page writes, two fsyncs, and
	// a sink delivery after it — is then shared by the events of the
	// interval instead of paid per event under light load; an event waits
	// at most this much longer to be persisted.
	CommitInterval time.Duration
	// Price, if set, fills in an event's cost. It runs on the writer
	// goroutine, off the request path.
	Price func(*core.UsageEvent)
	// Ledger makes this outbox feed the usage ledger. One outbox per
	// database may.
	Ledger bool
	// Log receives delivery warnings and errors.
	Log *slog.Logger
}

// SinkConfig is one sink of an outbox and how it is delivered to.
type SinkConfig struct {
	// Name identifies the sink's queue and dead letters; unique per database.
	Name string
	Sink core.Sink
	// MaxEvents is the most events in one Write (default 1000).
	MaxEvents int
	// MaxAge is how long a batch smaller than MaxEvents may wait for more
	// events (default 0: deliver at once).
	MaxAge time.Duration
	// Retry governs failed writes.
	Retry RetryPolicy
	// PayloadsOnly keeps usage events out of the sink: it receives only
	// what a [Deliverer] hands it ("sink:NAME"), e.g. decision logs.
	PayloadsOnly bool
}

// RetryPolicy governs retries of a failed write: exponential backoff from
// Initial to Max with ±50% jitter; after MaxAttempts failed attempts the
// batch moves to dead letters.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	MaxAttempts int
}

// Outbox is the durable hand-off between the request path and the sinks.
// [Outbox.Enqueue] appends to memory and returns; a writer goroutine commits
// what has queued up in one transaction (one fsync for the batch, the ledger
// updated in the same transaction); one goroutine per sink delivers from its
// own queue, at least once, in order, retrying with backoff and moving what
// cannot be delivered to dead letters.
//
// An event is accepted when it is persisted: from then on it survives a
// crash. Between Enqueue and the commit — at most CommitInterval and the
// commit's fsync — it lives only in memory. Close persists everything
// queued in memory.
//
// An Outbox is safe for concurrent use.
type Outbox struct {
	db  *DB
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	mem       []*core.UsageEvent
	spare     []*core.UsageEvent
	acks      []ack
	spareAcks []ack
	closed    bool

	wake       chan struct{}
	enough     chan struct{} // lingerEnough events wait: end the interval
	stop       chan struct{} // Close: the writer drains memory and exits
	abandon    chan struct{} // Close's deadline passed: give up retrying
	writerDone chan struct{}

	accepted  atomic.Int64
	persisted atomic.Int64
	commits   atomic.Int64 // transactions that persisted events
	memDrops  atomic.Int64
	lastDrop  atomic.Int64 // unix nanos of the last memory-drop log line

	commitMu  sync.Mutex
	committed chan struct{} // closed and replaced after each commit

	persistErr atomic.Pointer[string]

	workers []*worker
	// The writer's scratch, reused by each transaction: bolt needs the
	// values put only until the transaction ends (it copies keys).
	enc  []byte // the chunk's events, encoded
	ends []int  // where each event ends in enc
}

// NewOutbox starts an outbox writing to db. It registers the sinks' queues
// and starts their delivery; events left in the queues by an earlier run
// are delivered first.
func (db *DB) NewOutbox(cfg Config) (*Outbox, error) {
	if cfg.Log == nil {
		cfg.Log = db.log
	}
	if cfg.MaxBacklogBytes <= 0 {
		cfg.MaxBacklogBytes = DefaultMaxBacklogBytes
	}
	if cfg.MaxMemoryEvents <= 0 {
		cfg.MaxMemoryEvents = DefaultMaxMemoryEvents
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if err := CheckOnFull(cfg.OnFull); err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	if cfg.OnFull == "" {
		cfg.OnFull = OnFullDrop
	}
	o := &Outbox{db: db, cfg: cfg, log: cfg.Log,
		wake: make(chan struct{}, 1), enough: make(chan struct{}, 1), stop: make(chan struct{}), abandon: make(chan struct{}),
		writerDone: make(chan struct{}), committed: make(chan struct{})}
	if err := db.register(o); err != nil {
		return nil, err
	}
	go o.writeLoop()
	for _, w := range o.workers {
		go w.run()
	}
	return o, nil
}

// CheckOnFull refuses an on_full that is neither OnFullDrop, OnFullUnready
// nor "" (the default, OnFullDrop).
func CheckOnFull(v string) error {
	switch v {
	case "", OnFullDrop, OnFullUnready:
		return nil
	}
	return fmt.Errorf("on_full: want %s or %s, got %q", OnFullDrop, OnFullUnready, v)
}

// Enqueue hands an event off for persistence and delivery. It appends to
// memory under a mutex and never waits for I/O. The outbox owns ev from
// then on. Past MaxMemoryEvents unpersisted events (the disk has stalled)
// the event is dropped and counted, with an error logged.
func (o *Outbox) Enqueue(ev *core.UsageEvent) {
	o.mu.Lock()
	if o.closed || len(o.mem) >= o.cfg.MaxMemoryEvents {
		closed := o.closed
		o.mu.Unlock()
		o.dropInMemory(ev, closed)
		return
	}
	o.mem = append(o.mem, ev)
	n := len(o.mem)
	o.mu.Unlock()
	o.accepted.Add(1)
	select {
	case o.wake <- struct{}{}:
	default:
	}
	if n == lingerEnough {
		o.endLinger()
	}
}

// dropInMemory counts and reports an event that could not be queued.
func (o *Outbox) dropInMemory(ev *core.UsageEvent, closed bool) {
	n := o.memDrops.Add(1)
	if closed {
		o.log.Error("usage event after the outbox closed: not persisted", "stage", o.cfg.Stage, "id", ev.ID, "customer", ev.CustomerID)
		return
	}
	now := time.Now().UnixNano()
	if last := o.lastDrop.Load(); now-last > int64(10*time.Second) && o.lastDrop.CompareAndSwap(last, now) {
		o.log.Error("usage outbox memory queue is full (the disk is not keeping up): events are being dropped",
			"stage", o.cfg.Stage, "dropped_total", n, "max_memory_events", o.cfg.MaxMemoryEvents, "id", ev.ID)
	}
}

// take swaps out the events queued in memory and the pending acks.
func (o *Outbox) take() ([]*core.UsageEvent, []ack) {
	o.mu.Lock()
	defer o.mu.Unlock()
	batch, acks := o.mem, o.acks
	o.mem, o.acks = o.spare[:0], o.spareAcks[:0]
	o.spare, o.spareAcks = nil, nil
	return batch, acks
}

// recycle returns a batch's and its acks' slices for reuse.
func (o *Outbox) recycle(batch []*core.UsageEvent, acks []ack) {
	clear(batch)
	clear(acks)
	o.mu.Lock()
	if o.spare == nil && cap(batch) <= 4*maxTxEvents {
		o.spare = batch[:0]
	}
	if o.spareAcks == nil && cap(acks) <= maxTxEvents {
		o.spareAcks = acks[:0]
	}
	o.mu.Unlock()
}

// writeLoop persists what Enqueue queued, and the workers' acks, until
// Close, then drains. Transactions start at most every CommitInterval.
func (o *Outbox) writeLoop() {
	defer close(o.writerDone)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch, acks := o.take()
		if len(batch) == 0 && len(acks) == 0 {
			select {
			case <-o.wake:
				continue
			case <-o.stop:
				if b, a := o.take(); len(b) > 0 || len(a) > 0 {
					o.persist(b, a)
					continue
				}
				return
			}
		}
		started := time.Now()
		if !o.persist(batch, acks) {
			return
		}
		o.recycle(batch, acks)
		o.linger(linger, o.cfg.CommitInterval-time.Since(started))
	}
}

// linger waits d for more events to share the next transaction, ending
// early when lingerEnough events wait or Close begins.
func (o *Outbox) linger(t *time.Timer, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-o.enough: // a signal from before this check: the check sees its cause
	default:
	}
	o.mu.Lock()
	n, closed := len(o.mem), o.closed
	o.mu.Unlock()
	if n >= lingerEnough || closed {
		return
	}
	t.Reset(d)
	select {
	case <-t.C:
	case <-o.enough:
	}
	t.Stop() // since Go 1.23 no stale tick survives Stop
}

// inMemory is how many events were accepted and are not on disk yet.
func (o *Outbox) inMemory() int64 { return o.accepted.Load() - o.persisted.Load() }

// endLinger ends the writer's wait for more events.
func (o *Outbox) endLinger() {
	select {
	case o.enough <- struct{}{}:
	default:
	}
}

// persist commits batch in transactions of at most maxTxEvents (the acks
// ride with the first), retrying a failed commit until it succeeds or Close
// gives up. It reports whether it persisted everything.
func (o *Outbox) persist(batch []*core.UsageEvent, acks []ack) bool {
	delay := 50 * time.Millisecond
	var failingSince time.Time
	for first := true; first || len(batch) > 0; first = false {
		n := min(len(batch), maxTxEvents)
		for {
			err := o.commit(batch[:n], acks)
			if err == nil {
				if !failingSince.IsZero() {
					o.log.Info("usage outbox writes to disk again: the events that waited in memory are being persisted",
						"stage", o.cfg.Stage, "failed_for", time.Since(failingSince).Round(time.Millisecond),
						"events_in_memory", o.inMemory())
					failingSince = time.Time{}
				}
				break
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			msg := err.Error()
			o.persistErr.Store(&msg)
			// All the events accepted and not yet on disk wait, not only
			// this transaction's: the memory queue fills behind it.
			o.log.Error("usage outbox cannot write to disk; events wait in memory and are retried",
				"stage", o.cfg.Stage, "events_in_memory", o.inMemory(),
				"failing_for", time.Since(failingSince).Round(time.Millisecond), "retry_in", delay, "err", err)
			select {
			case <-time.After(delay):
				delay = min(delay*2, 5*time.Second)
				continue
			case <-o.abandon:
				o.log.Error("usage events lost: the outbox could not persist them before the shutdown deadline",
					"stage", o.cfg.Stage, "events", len(batch), "err", err)
				return false
			}
		}
		o.persistErr.Store(nil)
		for _, ev := range batch[:n] {
			core.RecycleUsageEvent(ev) // encoded and stored: the outbox owned it
		}
		batch, acks = batch[n:], nil
	}
	return true
}

// commit encodes and prices chunk, stores it for every sink and in the
// ledger, and removes acked events, in one transaction: one fsync. It
// yields between pieces (procs.Yield): on one processor a commit's
// hundred-odd events would otherwise hold it for most of a millisecond,
// and the call that arrives meanwhile would wait for all of it.
func (o *Outbox) commit(chunk []*core.UsageEvent, acks []ack) error {
	data, ends := o.enc[:0], o.ends[:0]
	for i, ev := range chunk {
		if i%16 == 15 {
			procs.Yield() // at one processor, calls arriving meanwhile go first
		}
		if o.cfg.Price != nil && ev.Cost == nil {
			o.cfg.Price(ev)
		}
		data = ev.AppendJSON(data)
		ends = append(ends, len(data))
	}
	o.enc, o.ends = data, ends
	value := func(i int) []byte {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		return data[start:ends[i]]
	}
	type result struct{ added, bytes, dropped int64 }
	results := make([]result, len(o.workers))
	var key [8]byte // Put copies it
	var aside []string
	procs.Yield()
	err := o.db.bolt.Update(func(tx *bolt.Tx) (err error) {
		if err := removeAcks(tx, acks); err != nil {
			return err
		}
		queues, dropped := tx.Bucket(bucketQueues), tx.Bucket(bucketDropped)
		for wi, w := range o.workers {
			if w.cfg.PayloadsOnly {
				continue
			}
			q := queues.Bucket([]byte(w.st.name))
			q.FillPercent = 1 // keys only ever grow: pack pages full
			room := o.cfg.MaxBacklogBytes - w.st.backlog.Load()
			r := &results[wi]
			for i := range chunk {
				if i%32 == 31 {
					procs.Yield()
				}
				v := value(i)
				if r.bytes+int64(len(v)) > room {
					r.dropped++
					continue
				}
				seq, err := q.NextSequence()
				if err != nil {
					return err
				}
				binary.BigEndian.PutUint64(key[:], seq)
				if err := q.Put(key[:], v); err != nil {
					return err
				}
				r.added++
				r.bytes += int64(len(v))
			}
			if r.dropped > 0 {
				total := w.st.droppedTotal.Load() + r.dropped
				if err := dropped.Put([]byte(w.st.name), u64(uint64(total))); err != nil {
					return err
				}
			}
		}
		if o.cfg.Ledger && len(chunk) > 0 {
			aside, err = recordLedger(tx, chunk)
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, row := range aside {
		o.log.Error("usage ledger row could not be read: kept as it was in the usage database's ledger_damaged bucket; "+
			"the row counts again from this commit's events, and its earlier totals are not in reports or budgets",
			"stage", o.cfg.Stage, "row", row)
	}
	settleAcks(acks)
	for wi, w := range o.workers {
		r := results[wi]
		w.st.backlog.Add(r.bytes)
		w.st.queued.Add(r.added)
		if r.dropped > 0 {
			w.st.droppedTotal.Add(r.dropped)
			o.reportFull(w.st, r.dropped)
		} else {
			w.st.checkFull(o)
		}
		if r.added > 0 {
			w.st.notify()
		}
	}
	if len(chunk) > 0 {
		o.persisted.Add(int64(len(chunk)))
		o.commits.Add(1)
		o.commitMu.Lock()
		close(o.committed)
		o.committed = make(chan struct{})
		o.commitMu.Unlock()
	}
	return nil
}

// reportFull logs a sink's dropped events: at once when it fills, then at
// most every 10 seconds while it stays full.
func (o *Outbox) reportFull(st *sinkState, n int64) {
	now := time.Now().UnixNano()
	wasFull := st.full.Swap(true)
	last := st.lastFullLog.Load()
	if wasFull && now-last < int64(10*time.Second) {
		return
	}
	st.lastFullLog.Store(now)
	o.log.Error("usage outbox full: new events are NOT stored for this sink until its backlog drains",
		"stage", o.cfg.Stage, "sink", st.name, "dropped_now", n, "dropped_total", st.droppedTotal.Load(),
		"backlog_bytes", st.backlog.Load(), "max_backlog_bytes", o.cfg.MaxBacklogBytes, "policy", o.cfg.OnFull,
		"what_to_do", "bring the sink back, raise max_backlog_bytes, or purge dead letters (docs/operations.md)")
}

// WaitPersisted blocks until every event enqueued before the call is
// persisted, or ctx is done. Tests and benchmarks use it to know what has
// been accepted.
func (o *Outbox) WaitPersisted(ctx context.Context) error {
	target := o.accepted.Load()
	for o.persisted.Load() < target {
		o.commitMu.Lock()
		ch := o.committed
		o.commitMu.Unlock()
		if o.persisted.Load() >= target {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting events, persists every event still in memory, lets
// each sink deliver what it can until ctx is done (a sink that is failing
// stops at once), and closes the sinks. What is not delivered stays in the
// queues for the next start. It does not close the database.
//
// Persisting is bounded by [core.PersistContext] of ctx, delivering by ctx:
// a ctx cancelled early (a second SIGTERM) stops the sinks at once, and the
// events in memory are still persisted. Close returns an error only if
// events could not be persisted in time.
func (o *Outbox) Close(ctx context.Context) error {
	persist := core.PersistContext(ctx)
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	o.endLinger()
	var errs []error
	// 1. Everything handed off reaches the disk; 2. each sink delivers
	// what it can; 3. the writer commits their last acks and stops.
	if err := o.WaitPersisted(persist); err != nil {
		close(o.abandon)
	}
	for _, w := range o.workers {
		close(w.closing)
	}
	for _, w := range o.workers {
		select {
		case <-w.done:
		case <-ctx.Done():
			w.cancel()
			<-w.done
		}
	}
	close(o.stop)
	select {
	case <-o.writerDone:
	case <-persist.Done():
		if !isClosed(o.abandon) {
			close(o.abandon)
		}
		<-o.writerDone
	}
	if lost := o.accepted.Load() - o.persisted.Load(); lost > 0 {
		errs = append(errs, fmt.Errorf("tracking: %s: %d usage events could not be persisted before the shutdown deadline", o.cfg.Stage, lost))
	}
	for _, w := range o.workers {
		// A reload's outbox took the queue over and delivers it now.
		if n := w.st.queued.Load(); n > 0 && !isClosed(w.superseded) {
			o.log.Info("usage events kept in the outbox for the next start", "stage", o.cfg.Stage, "sink", w.st.name, "events", n)
		}
		if err := w.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tracking: sink %s: %w", w.st.name, err))
		}
	}
	o.db.unregister(o)
	return errors.Join(errs...)
}
