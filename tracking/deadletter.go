package tracking

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// deadRecord is a dead letter as stored.
type deadRecord struct {
	Reason   string          `json:"reason"`
	Attempts int             `json:"attempts"`
	FailedAt time.Time       `json:"failed_at"`
	Event    json.RawMessage `json:"event"`
}

// DeadLetter is an event a sink could not take: what it was, why, when.
type DeadLetter struct {
	Sink     string          `json:"sink"`
	Seq      uint64          `json:"seq"`
	ID       string          `json:"id"`
	Reason   string          `json:"reason"`
	Attempts int             `json:"attempts"`
	FailedAt time.Time       `json:"failed_at"`
	Event    json.RawMessage `json:"event"`
}

// Selector picks dead letters: those of Sink (all sinks when empty) whose
// event id is in IDs (all when empty).
//
// # Notes
//
// The zero Selector picks every dead letter, so a caller that fills one
// from what a person typed must refuse an empty sink or id rather than pass
// it on; and a Sink that names no sink picks none, so such a caller should
// check it against [DB.SinkNames] rather than report nothing found for a
// typo. The admin API and `tollgate usage` do both.
type Selector struct {
	Sink string   `json:"sink,omitempty"`
	IDs  []string `json:"ids,omitempty"`
}

// picksSink reports whether s picks dead letters of sink at all.
func (s Selector) picksSink(sink string) bool { return s.Sink == "" || s.Sink == sink }

func (s Selector) matches(sink, id string) bool {
	return s.picksSink(sink) && (len(s.IDs) == 0 || slices.Contains(s.IDs, id))
}

// DeadLetters lists the dead letters sel picks, oldest first per sink, at
// most limit of them (0: all).
func (db *DB) DeadLetters(sel Selector, limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEachBucket(func(name []byte) error {
			sink := string(name)
			if !sel.picksSink(sink) {
				return nil
			}
			c := tx.Bucket(bucketDead).Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if limit > 0 && len(out) >= limit {
					return nil
				}
				dl := decodeDead(sink, k, v)
				if sel.matches(sink, dl.ID) {
					out = append(out, dl)
				}
			}
			return nil
		})
	})
	return out, err
}

func decodeDead(sink string, k, v []byte) DeadLetter {
	var rec deadRecord
	dl := DeadLetter{Sink: sink, Seq: beUint64(k)}
	if err := json.Unmarshal(v, &rec); err != nil {
		dl.Reason = "unreadable dead letter: " + err.Error()
		dl.Event = rawEvent(v)
		return dl
	}
	dl.Reason, dl.Attempts, dl.FailedAt, dl.Event = rec.Reason, rec.Attempts, rec.FailedAt, rec.Event
	var id struct {
		ID string `json:"id"`
	}
	json.Unmarshal(rec.Event, &id)
	dl.ID = id.ID
	return dl
}

// Replay moves the dead letters sel picks back to their sinks' queues,
// where they are delivered after what is queued now. It returns how many
// moved. A sink delivering in this process is woken; otherwise they go at
// the next start.
func (db *DB) Replay(sel Selector) (int, error) {
	return db.moveDead(sel, true)
}

// Purge deletes the dead letters sel picks for good and returns how many.
func (db *DB) Purge(sel Selector) (int, error) {
	return db.moveDead(sel, false)
}

// ErrNoDeadLetter means a [Selector] named an event id that no dead letter
// it picks has: a replay or purge naming ids moves all of them or none.
var ErrNoDeadLetter = errors.New("tracking: no such dead letter")

func (db *DB) moveDead(sel Selector, requeue bool) (int, error) {
	type change struct{ n, queued, backlog int64 }
	changes := map[string]*change{}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		clear(changes)
		found := map[string]bool{}
		dead := tx.Bucket(bucketDead)
		var names [][]byte
		dead.ForEachBucket(func(name []byte) error {
			names = append(names, clone(name))
			return nil
		})
		for _, name := range names {
			sink := string(name)
			if !sel.picksSink(sink) {
				continue
			}
			d := dead.Bucket(name)
			var q *bolt.Bucket
			if requeue {
				var err error
				if q, err = tx.Bucket(bucketQueues).CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			ch := &change{}
			var keys [][]byte
			c := d.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				dl := decodeDead(sink, k, v)
				if !sel.matches(sink, dl.ID) {
					continue
				}
				keys = append(keys, clone(k))
				found[dl.ID] = true
				ch.n++
				ch.backlog -= int64(len(v))
				if requeue {
					seq, err := q.NextSequence()
					if err != nil {
						return err
					}
					ev := dl.Event
					if dl.Reason == damagedReason {
						ev = storedBytes(ev) // set aside again, not sent as a JSON string
					}
					if err := q.Put(u64(seq), ev); err != nil {
						return err
					}
					ch.queued++
					ch.backlog += int64(len(ev))
				}
			}
			for _, k := range keys {
				if err := d.Delete(k); err != nil {
					return err
				}
			}
			if ch.n > 0 {
				changes[sink] = ch
			}
		}
		return missingIDs(sel, found)
	})
	if errors.Is(err, ErrNoDeadLetter) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("tracking: %w", err)
	}
	total := 0
	db.mu.Lock()
	defer db.mu.Unlock()
	for sink, ch := range changes {
		total += int(ch.n)
		if st, ok := db.sinks[sink]; ok {
			st.dead.Add(-ch.n)
			st.queued.Add(ch.queued)
			st.backlog.Add(ch.backlog)
			st.notify()
		}
	}
	return total, nil
}

// storedBytes undoes rawEvent: the bytes a dead letter's event was stored as.
func storedBytes(ev json.RawMessage) []byte {
	var s string
	if json.Unmarshal(ev, &s) == nil {
		return []byte(s)
	}
	return ev
}

// missingIDs is ErrNoDeadLetter naming the ids of sel not found, or nil.
func missingIDs(sel Selector, found map[string]bool) error {
	var missing []string
	for _, id := range sel.IDs {
		if !found[id] && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	quoted := make([]string, len(missing))
	for i, id := range missing {
		quoted[i] = strconv.Quote(id)
	}
	where := ""
	if sel.Sink != "" {
		where = " of sink " + strconv.Quote(sel.Sink)
	}
	return fmt.Errorf("%w%s: %s; nothing was changed (tollgate usage dead-letters lists them)",
		ErrNoDeadLetter, where, strings.Join(quoted, ", "))
}

func beUint64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
