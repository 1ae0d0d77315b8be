package tracking

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SinkStats describes one sink's queue.
type SinkStats struct {
	Name string `json:"name"`
	// Stage is the track stage delivering it; empty when no stage in this
	// process does (the sink left the config, or the gateway is stopped).
	Stage           string     `json:"stage,omitempty"`
	Queued          int64      `json:"queued"`
	DeadLetters     int64      `json:"dead_letters"`
	BacklogBytes    int64      `json:"backlog_bytes"`
	MaxBacklogBytes int64      `json:"max_backlog_bytes,omitempty"`
	Dropped         int64      `json:"dropped_total"`
	Delivered       int64      `json:"delivered"`
	Full            bool       `json:"full"`
	Failing         bool       `json:"failing"`
	FailingSince    *time.Time `json:"failing_since,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
}

// Stats describes the outboxes of a database. Counters other than the
// stored ones (queued, dead letters, backlog, dropped) count since start.
type Stats struct {
	// Accepted counts events handed off; Persisted those committed to disk
	// (accepted in the sense of the delivery guarantee).
	Accepted  int64 `json:"handed_off"`
	Persisted int64 `json:"persisted"`
	// Commits counts the transactions that persisted events: Persisted
	// over Commits is how many events shared one transaction's fsyncs.
	Commits int64 `json:"commits"`
	// InMemory is handed off but not yet persisted.
	InMemory int64 `json:"in_memory"`
	// MemoryDropped counts events dropped before persistence: after close,
	// or past max_memory_events.
	MemoryDropped int64  `json:"memory_dropped"`
	PersistError  string `json:"persist_error,omitempty"`
	// LedgerRowsSetAside counts the ledger rows kept in the ledger_damaged
	// bucket because they could not be read (stored: since the file began).
	LedgerRowsSetAside int         `json:"ledger_rows_set_aside"`
	FileBytes          int64       `json:"file_bytes"`
	Sinks              []SinkStats `json:"sinks"`
}

// Stats reports every sink queue in the file, delivered here or not.
func (db *DB) Stats() Stats {
	s := Stats{FileBytes: db.FileSize()}
	db.mu.Lock()
	live := make(map[string]*sinkState, len(db.sinks))
	for k, v := range db.sinks {
		live[k] = v
	}
	for o := range db.outboxes {
		s.Accepted += o.accepted.Load()
		s.Persisted += o.persisted.Load()
		s.Commits += o.commits.Load()
		s.MemoryDropped += o.memDrops.Load()
		if e := o.persistErr.Load(); e != nil {
			s.PersistError = *e
		}
	}
	db.mu.Unlock()
	s.InMemory = s.Accepted - s.Persisted
	var names []string
	db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketLedgerAside); b != nil {
			s.LedgerRowsSetAside = b.Stats().KeyN
		}
		names = storedSinks(tx)
		return nil
	})
	for _, name := range names {
		st, ok := live[name]
		if !ok {
			st = &sinkState{name: name}
			db.countSink(st)
		}
		ss := SinkStats{Name: name, Queued: st.queued.Load(), DeadLetters: st.dead.Load(),
			BacklogBytes: st.backlog.Load(), Dropped: st.droppedTotal.Load(), Delivered: st.delivered.Load(),
			Full: st.full.Load(), Failing: st.failing.Load()}
		if w := st.worker.Load(); w != nil {
			ss.Stage = w.o.cfg.Stage
			ss.MaxBacklogBytes = w.o.cfg.MaxBacklogBytes
		}
		if ss.Failing {
			t := time.Unix(0, st.failingSince.Load()).UTC()
			ss.FailingSince = &t
		}
		if e := st.lastErr.Load(); e != nil && ss.Failing {
			ss.LastError = *e
		}
		s.Sinks = append(s.Sinks, ss)
	}
	return s
}

// SinkNames lists, sorted, the sinks the file holds a queue or dead
// letters for: every sink delivered here since the file began, those
// removed from the config since included, and each [Deliverer] URL's
// ("deliver:HOST-HASH"). A [Selector] naming another sink picks nothing.
func (db *DB) SinkNames() ([]string, error) {
	var names []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		names = storedSinks(tx)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	return names, nil
}

// storedSinks lists, sorted, the sinks with a queue or dead letters in tx.
func storedSinks(tx *bolt.Tx) []string {
	var names []string
	for _, parent := range [][]byte{bucketQueues, bucketDead} {
		tx.Bucket(parent).ForEachBucket(func(name []byte) error {
			if !slices.Contains(names, string(name)) {
				names = append(names, string(name))
			}
			return nil
		})
	}
	slices.Sort(names)
	return names
}

// Health is the outbox's part of /readyz.
type Health struct {
	// Ready is false only when a sink is full under OnFullUnready.
	Ready bool
	// Detail is "ok" or says what is wrong and what it means.
	Detail string
}

// Health reports whether the outboxes can take events, and if not, why.
func (db *DB) Health() Health {
	s := db.Stats()
	db.mu.Lock()
	unready := map[string]bool{}
	for o := range db.outboxes {
		for _, w := range o.workers {
			unready[w.st.name] = o.cfg.OnFull == OnFullUnready
		}
	}
	db.mu.Unlock()
	h := Health{Ready: true}
	var notes []string
	if s.PersistError != "" {
		notes = append(notes, "cannot write the outbox to disk ("+s.PersistError+"): events wait in memory")
	}
	if s.MemoryDropped > 0 {
		notes = append(notes, fmt.Sprintf("%d events dropped before persistence since start", s.MemoryDropped))
	}
	for _, ss := range s.Sinks {
		switch {
		case ss.Full:
			notes = append(notes, fmt.Sprintf("sink %s is FULL (%s of %s): new events are not stored for it; %d dropped in total",
				ss.Name, bytesText(ss.BacklogBytes), bytesText(ss.MaxBacklogBytes), ss.Dropped))
			if unready[ss.Name] {
				h.Ready = false
			}
		case ss.MaxBacklogBytes > 0 && ss.BacklogBytes >= ss.MaxBacklogBytes/10*8:
			notes = append(notes, fmt.Sprintf("sink %s is nearly full (%s of %s)", ss.Name, bytesText(ss.BacklogBytes), bytesText(ss.MaxBacklogBytes)))
		}
		if ss.Failing && ss.FailingSince != nil {
			notes = append(notes, fmt.Sprintf("sink %s failing since %s (%d queued): %s", ss.Name,
				ss.FailingSince.Format(time.RFC3339), ss.Queued, ss.LastError))
		}
	}
	h.Detail = "ok"
	if len(notes) > 0 {
		h.Detail = strings.Join(notes, "; ")
	}
	return h
}

// bytesText writes a byte count for people.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
