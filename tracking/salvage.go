package tracking

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
)

// salvage copies what it can of src into dst, one bucket at a time; a
// panic while reading a damaged page ends that read, not the recovery.
func salvage(src, dst *bolt.DB, rep *RecoverReport) {
	// A sink's dead letters keep the keys they had in its queue, so the
	// queue's sequence bounds both.
	seqs := map[string]uint64{}
	for _, parent := range [][]byte{bucketQueues, bucketDead} {
		names, why := listBuckets(src, parent)
		if why != "" {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the list of sinks could not be read, so neither could an unknown number of their entries: %s", parent, why))
			rep.Lost[string(parent)] = -1
		}
		for _, n := range names {
			c := &bucketCopy{src: src, label: string(parent) + "/" + string(n), path: [][]byte{parent, n},
				seqKeys: true, maxKey: seqs[string(n)]}
			c.read()
			if bytes.Equal(parent, bucketQueues) {
				seqs[string(n)] = c.seq
			}
			c.write(dst, rep)
		}
	}
	for _, b := range [][]byte{bucketLedger, bucketLedgerAside} {
		(&bucketCopy{src: src, label: string(b), path: [][]byte{b}}).copyTo(dst, rep)
	}
	setAsideUnreadable(dst, rep)
	(&bucketCopy{src: src, label: string(bucketDropped), path: [][]byte{bucketDropped}}).copyTo(dst, rep)
	// The URL each deliver: queue is for.
	(&bucketCopy{src: src, label: string(bucketMeta), path: [][]byte{bucketMeta}}).copyTo(dst, rep)
}

// listBuckets lists the buckets nested in parent, or says why it could not.
func listBuckets(src *bolt.DB, parent []byte) (names [][]byte, why string) {
	defer func() {
		if r := recover(); r != nil {
			names, why = nil, fmt.Sprint(r)
		}
	}()
	err := src.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(parent); b != nil {
			return b.ForEachBucket(func(k []byte) error {
				names = append(names, clone(k))
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err.Error()
	}
	return names, ""
}

// bucketCopy reads one bucket of a damaged file and writes what it read
// into the new one.
type bucketCopy struct {
	src   *bolt.DB
	label string   // "queues/tracker", "ledger", … as the report names it
	path  [][]byte // the bucket, from the top
	// seqKeys says the keys are sequence numbers: reading can then go on
	// past a damaged page, and the keys either side of it bound how many
	// entries it held.
	seqKeys bool
	// maxKey bounds the keys where the bucket's own sequence does not
	// (dead letters); 0: nothing does.
	maxKey uint64

	seq     uint64 // the bucket's sequence
	entries []entry
	// lost is how many entries, at most, were on pages that could not be
	// read; -1 when nothing tells.
	lost     int
	problems []string
}

type entry struct{ k, v []byte }

// maxDamagedPages bounds the damaged pages one bucket's read goes past.
const maxDamagedPages = 10_000

// copyTo reads the bucket and writes it into dst.
func (c *bucketCopy) copyTo(dst *bolt.DB, rep *RecoverReport) {
	c.read()
	c.write(dst, rep)
}

// read reads every entry it can. Past a damaged page it goes on at the
// next key that can be read, when the keys are sequence numbers.
func (c *bucketCopy) read() {
	var start []byte
	var counted uint64 // the highest key read, or counted as lost; sequences start at 1
	for range maxDamagedPages {
		before := len(c.entries)
		why, done := c.scan(start)
		if done {
			return
		}
		if n := len(c.entries); n > before {
			k := c.entries[n-1].k
			if len(k) != 8 {
				c.seqKeys = false // not a sequence after all: nothing to seek to
			}
			counted = beUint64(k)
		}
		if !c.seqKeys {
			c.lose(-1, fmt.Sprintf("an unknown number of entries could not be read: a damaged page %s: %s", c.where(), why))
			return
		}
		from := counted
		if len(c.entries) == before && start != nil {
			from = max(from, beUint64(start)) // start itself could not be read
		}
		next, key, found := c.pastDamage(from)
		if !found || key == nil {
			bound := max(c.seq, c.maxKey)
			if bound <= counted {
				c.lose(-1, fmt.Sprintf("an unknown number of entries, from key %d on, could not be read: a damaged page %s: %s", counted+1, c.where(), why))
				return
			}
			c.lose(int(bound-counted), fmt.Sprintf("up to %d entries, keys %d to %d, could not be read: a damaged page %s, and none readable after it: %s",
				bound-counted, counted+1, bound, c.where(), why))
			return
		}
		if k := beUint64(key); k > counted+1 {
			c.lose(int(k-counted-1), fmt.Sprintf("up to %d entries, keys %d to %d, could not be read: a damaged page %s: %s",
				k-counted-1, counted+1, k-1, c.where(), why))
			counted = k - 1
		}
		start = u64(next)
	}
	c.lose(-1, fmt.Sprintf("more than %d damaged pages: the entries %s were not read", maxDamagedPages, c.where()))
}

// where says where reading stopped, by the entries read so far.
func (c *bucketCopy) where() string {
	if len(c.entries) == 0 {
		return "before the first entry"
	}
	return fmt.Sprintf("after entry %d", len(c.entries))
}

// lose notes entries that could not be read: at most n, or -1: unknown.
func (c *bucketCopy) lose(n int, msg string) {
	if n < 0 || c.lost < 0 {
		c.lost = -1
	} else {
		c.lost += n
	}
	c.problems = append(c.problems, c.label+": "+msg)
}

// bucket is the bucket in tx, or nil.
func (c *bucketCopy) bucket(tx *bolt.Tx) *bolt.Bucket {
	b := tx.Bucket(c.path[0])
	for _, p := range c.path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(p)
	}
	return b
}

// scan reads from start (nil: the first key) to the end, appending to
// entries. A damaged page stops it (a panic in bbolt): done is then false
// and why says what bbolt found.
func (c *bucketCopy) scan(start []byte) (why string, done bool) {
	defer func() {
		if r := recover(); r != nil {
			why, done = fmt.Sprint(r), false
		}
	}()
	err := c.src.View(func(tx *bolt.Tx) error {
		b := c.bucket(tx)
		if b == nil {
			return nil
		}
		c.seq = b.Sequence()
		cur := b.Cursor()
		var k, v []byte
		if start == nil {
			k, v = cur.First()
		} else {
			k, v = cur.Seek(start) // not First: the first page may be the damaged one
		}
		for ; k != nil; k, v = cur.Next() {
			if v != nil { // nil: a nested bucket
				c.entries = append(c.entries, entry{clone(k), clone(v)})
			}
		}
		return nil
	})
	if err != nil {
		return err.Error(), false
	}
	return "", true
}

// probe returns the first key at or after from (nil: none), and false when
// a damaged page is in the way.
func (c *bucketCopy) probe(from uint64) (key []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			key, ok = nil, false
		}
	}()
	err := c.src.View(func(tx *bolt.Tx) error {
		if b := c.bucket(tx); b != nil {
			k, _ := b.Cursor().Seek(u64(from))
			key = clone(k)
		}
		return nil
	})
	return key, err == nil
}

// pastDamage finds the lowest key after last from which reading works
// again, and the first key there (nil: the bucket ends). It seeks ever
// further ahead until a read works, then narrows back down, so that the
// entries just past a damaged page are not skipped with it.
func (c *bucketCopy) pastDamage(last uint64) (next uint64, key []byte, found bool) {
	bad := last
	for step := uint64(1); step != 0 && last+step > last; step <<= 1 {
		if k, ok := c.probe(last + step); ok {
			next, key, found = last+step, k, true
			break
		}
		bad = last + step
	}
	if !found {
		return 0, nil, false
	}
	for bad+1 < next {
		mid := bad + (next-bad)/2
		if k, ok := c.probe(mid); ok {
			next, key = mid, k
		} else {
			bad = mid
		}
	}
	return next, key, true
}

// write puts what was read into dst, with the bucket's sequence, and
// reports it.
func (c *bucketCopy) write(dst *bolt.DB, rep *RecoverReport) {
	rep.Problems = append(rep.Problems, c.problems...)
	err := dst.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(c.path[0])
		if err != nil {
			return err
		}
		for _, p := range c.path[1:] {
			if b, err = b.CreateBucketIfNotExists(p); err != nil {
				return err
			}
		}
		if err := b.SetSequence(c.seq); err != nil {
			return err
		}
		for _, e := range c.entries {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: writing %d entries into the new file: %v", c.label, len(c.entries), err))
		rep.Lost[c.label] = -1
		return
	}
	rep.Copied[c.label] = len(c.entries)
	if c.lost != 0 {
		rep.Lost[c.label] = c.lost
	}
}

// setAsideUnreadable sets aside the copied ledger rows whose totals cannot
// be read (setAside), so that reports and budgets over them work again.
func setAsideUnreadable(dst *bolt.DB, rep *RecoverReport) {
	err := dst.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLedgerAside); err != nil {
			return err
		}
		b := tx.Bucket(bucketLedger)
		if b == nil {
			return nil
		}
		var bad [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var t core.UsageTotals
			if err := json.Unmarshal(v, &t); err != nil {
				if err := setAside(tx, k, v); err != nil {
					return err
				}
				rep.Problems = append(rep.Problems, fmt.Sprintf("ledger: row %s could not be read (%v): set aside in ledger_damaged", rowName(k), err))
				bad = append(bad, bytes.Clone(k))
			}
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("ledger: setting aside unreadable rows: %v", err))
	}
}
