package tracking

import (
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestAcksRemoveOnlyWhatWasDelivered: acks are runs of sequence numbers; an
// event left out of a delivered batch (one that could not be decoded and
// stays queued) splits the run and is not removed, and an event acked
// twice (the old and the new worker of a reload) counts once.
func TestAcksRemoveOnlyWhatWasDelivered(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &sinkState{name: "s"}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		q, err := tx.Bucket(bucketQueues).CreateBucket([]byte(st.name))
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= 8; seq++ {
			if err := q.Put(u64(seq), []byte("abc")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o := &Outbox{wake: make(chan struct{}, 1)}
	batch := func(seqs ...uint64) []stored {
		var b []stored
		for _, s := range seqs {
			b = append(b, stored{key: u64(s), value: []byte("abc")})
		}
		return b
	}
	o.addAcks(st, batch(1, 2, 4))
	o.addAcks(st, batch(5, 6))
	o.addAcks(st, batch(6)) // a reload's second delivery of 6
	if want := []ack{{st: st, first: 1, last: 2}, {st: st, first: 4, last: 6}, {st: st, first: 6, last: 6}}; !slices.Equal(o.acks, want) {
		t.Fatalf("acks %+v, want %+v", o.acks, want)
	}
	st.queued.Store(8)
	st.backlog.Store(8 * 3)
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return removeAcks(tx, o.acks) }); err != nil {
		t.Fatal(err)
	}
	settleAcks(o.acks)
	var left []uint64
	db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueues).Bucket([]byte(st.name)).ForEach(func(k, _ []byte) error {
			left = append(left, beUint64(k))
			return nil
		})
	})
	if want := []uint64{3, 7, 8}; !slices.Equal(left, want) {
		t.Errorf("left queued %v, want %v", left, want)
	}
	if q, b, d := st.queued.Load(), st.backlog.Load(), st.delivered.Load(); q != 3 || b != 9 || d != 5 {
		t.Errorf("queued %d, backlog %d, delivered %d; want 3, 9, 5", q, b, d)
	}
}
