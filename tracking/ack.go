package tracking

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// ack is a run of delivered events, consecutive in one sink's queue, whose
// removal waits for the writer's next transaction. It holds sequence
// numbers, not the key bytes the worker read: the worker reuses its read
// block for its next batch at once.
type ack struct {
	st          *sinkState
	first, last uint64
	// removed and bytes are what the transaction found still queued and
	// deleted: across a reload the old and the new worker may both deliver
	// (and ack) one event, and only the first ack may count.
	removed, bytes int64
}

// addAcks records delivered events; the writer removes them from the queue
// in its next transaction, so acknowledging costs no fsync of its own. A
// crash before that commit only means they are delivered again. A batch
// read in one go is one run, one ack; an event left out of it (one that
// could not be decoded) splits the run.
func (o *Outbox) addAcks(st *sinkState, batch []stored) {
	o.mu.Lock()
	for _, s := range batch {
		seq := beUint64(s.key)
		if n := len(o.acks); n > 0 && o.acks[n-1].st == st && o.acks[n-1].last+1 == seq {
			o.acks[n-1].last = seq
			continue
		}
		o.acks = append(o.acks, ack{st: st, first: seq, last: seq})
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// removeAcks deletes, in tx, the acknowledged events still queued and
// notes in each ack what it deleted.
func removeAcks(tx *bolt.Tx, acks []ack) error {
	queues := tx.Bucket(bucketQueues)
	// One cursor per queue: a sink's acks come in key order, and a cursor
	// reused across seeks allocates nothing.
	var (
		st  *sinkState
		c   *bolt.Cursor
		key [8]byte
	)
	for i := range acks {
		a := &acks[i]
		a.removed, a.bytes = 0, 0
		if a.st != st {
			st, c = a.st, nil
			if q := queues.Bucket([]byte(st.name)); q != nil {
				c = q.Cursor()
			}
		}
		if c == nil {
			continue
		}
		// Seek after each delete: a delete leaves the cursor on the
		// element after it, where Next would skip one.
		for seq := a.first; ; {
			binary.BigEndian.PutUint64(key[:], seq)
			k, v := c.Seek(key[:])
			if k == nil || beUint64(k) > a.last {
				break
			}
			seq = beUint64(k)
			a.removed++
			a.bytes += int64(len(v))
			if err := c.Delete(); err != nil {
				return err
			}
			if seq == a.last {
				break
			}
			seq++
		}
	}
	return nil
}

// settleAcks counts the removed events out of their sinks' backlogs once the
// transaction that removed them has committed.
func settleAcks(acks []ack) {
	for _, a := range acks {
		if a.removed == 0 {
			continue
		}
		a.st.backlog.Add(-a.bytes)
		a.st.queued.Add(-a.removed)
		a.st.delivered.Add(a.removed)
	}
}
