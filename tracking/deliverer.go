package tracking

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking/sinks"
)

// DeliverStage is the stage name the Deliverer's own queues are listed under.
const DeliverStage = "deliver"

// DefaultMaxDestinations bounds the URL queues one Deliverer keeps.
const DefaultMaxDestinations = 64

// metaDestPrefix keys, in the meta bucket, the URL of each destination
// queue, so that a restart resumes delivering what an earlier run left.
const metaDestPrefix = "deliver-url:"

// DelivererConfig configures a [Deliverer].
type DelivererConfig struct {
	Log *slog.Logger
	// Retry governs failed POSTs to a URL (defaults as for sinks).
	Retry RetryPolicy
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration
	// MaxDestinations bounds the distinct URLs (default 64): each has a
	// queue and a goroutine.
	MaxDestinations int
}

// Deliverer is the durable [core.Deliverer] plugins and decision logs hand
// payloads to. Deliver commits the payload to the usage database before it
// returns — concurrent calls share one transaction — and from then on it
// is delivered at least once, with the outbox's retries, backoff and dead
// letters, across restarts:
//
//   - "sink:NAME" queues it for the track stage's sink NAME, which writes it
//     as it is (jsonl, http, stdout; a sink with `usage_events: false`
//     receives only such payloads). It must be one JSON value; it is
//     compacted to one line.
//   - an http(s) URL queues it for that URL, POSTed as the request body, one
//     payload per request; 408, 429 and 5xx are retried, another 4xx moves
//     it to dead letters. Each URL's queue is listed as sink
//     "deliver:HOST-HASH" of stage "deliver" (`tollgate usage outbox`).
//
// The database is opened on first use, in the directory the track stage
// uses. A Deliverer is safe for concurrent use.
type Deliverer struct {
	dir string
	cfg DelivererConfig

	life   sync.RWMutex // Deliver holds it shared, Close exclusively
	closed bool
	mu     sync.Mutex // guards db and dests
	db     *DB
	dests  map[string]*Outbox // URL → its queue
}

// NewDeliverer returns a Deliverer over the usage database in dir.
func NewDeliverer(dir string, cfg DelivererConfig) *Deliverer {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxDestinations <= 0 {
		cfg.MaxDestinations = DefaultMaxDestinations
	}
	return &Deliverer{dir: dir, cfg: cfg, dests: map[string]*Outbox{}}
}

// Deliver persists payload for dest and returns; delivery follows.
func (d *Deliverer) Deliver(ctx context.Context, dest string, payload []byte) error {
	d.life.RLock()
	defer d.life.RUnlock()
	if d.closed {
		return fmt.Errorf("deliver to %s: the pipeline is closed", dest)
	}
	if name, ok := strings.CutPrefix(dest, "sink:"); ok {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err != nil {
			return fmt.Errorf("deliver to %s: the payload is not one JSON value: %w", dest, err)
		}
		db, err := d.open()
		if err != nil {
			return err
		}
		st, err := db.payloadSink(name)
		if err != nil {
			return err
		}
		return db.putPayload(st, buf.Bytes())
	}
	db, err := d.open()
	if err != nil {
		return err
	}
	d.mu.Lock()
	st, err := d.urlQueue(db, dest)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return db.putPayload(st, payload)
}

// Resume starts delivering the URL queues an earlier run left payloads in.
// Without a database in the directory it does nothing.
func (d *Deliverer) Resume() error {
	if _, err := os.Stat(filepath.Join(d.dir, FileName)); err != nil {
		return nil
	}
	d.life.RLock()
	defer d.life.RUnlock()
	db, err := d.open()
	if err != nil {
		return err
	}
	var urls []string
	err = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		for k, v := c.Seek([]byte(metaDestPrefix)); k != nil && bytes.HasPrefix(k, []byte(metaDestPrefix)); k, v = c.Next() {
			q := tx.Bucket(bucketQueues).Bucket(k[len(metaDestPrefix):])
			if q != nil {
				if first, _ := q.Cursor().First(); first != nil {
					urls = append(urls, string(v))
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tracking: reading the delivery queues: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, u := range urls {
		if _, err := d.urlQueue(db, u); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the URL queues' delivery (what is left stays queued for the
// next start) and releases the database.
func (d *Deliverer) Close(ctx context.Context) error {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, ob := range d.dests {
		errs = append(errs, ob.Close(ctx))
	}
	if d.db != nil {
		errs = append(errs, d.db.Close())
	}
	return errors.Join(errs...)
}

// open opens the database on first use.
func (d *Deliverer) open() (*DB, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db != nil {
		return d.db, nil
	}
	db, err := Open(d.dir, WithLogger(d.cfg.Log))
	if err != nil {
		return nil, err
	}
	d.db = db
	return db, nil
}

// urlQueue returns the queue for a URL, starting it on first use; d.mu is
// held.
func (d *Deliverer) urlQueue(db *DB, dest string) (*sinkState, error) {
	if ob, ok := d.dests[dest]; ok {
		return ob.workers[0].st, nil
	}
	h, err := sinks.NewHTTP(sinks.HTTPConfig{URL: dest}, "") // checks the URL
	if err != nil {
		return nil, fmt.Errorf("deliver to %q: want \"sink:NAME\" or an absolute http(s) URL: %w", dest, err)
	}
	if len(d.dests) >= d.cfg.MaxDestinations {
		h.Close()
		return nil, fmt.Errorf("deliver to %s: already delivering to %d URLs, the most one gateway keeps queues for; narrow the plugins' deliver_to lists", dest, len(d.dests))
	}
	name := destQueueName(dest)
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(metaDestPrefix+name), []byte(dest))
	}); err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	ob, err := db.NewOutbox(Config{Stage: DeliverStage, Log: d.cfg.Log, Sinks: []SinkConfig{{
		Name: name, Sink: postEach{h}, MaxEvents: 1, Retry: d.cfg.Retry, PayloadsOnly: true}}})
	if err != nil {
		h.Close()
		return nil, err
	}
	d.dests[dest] = ob
	return ob.workers[0].st, nil
}

// destQueueName names a URL's queue: readable by its host, unique by a
// hash of the whole URL, and free of "/".
func destQueueName(dest string) string {
	u, _ := url.Parse(dest) // sinks.NewHTTP has checked it
	sum := sha256.Sum256([]byte(dest))
	return "deliver:" + u.Host + "-" + hex.EncodeToString(sum[:4])
}

// payloadSink is the queue of the track stage's sink name, if that sink
// can take a payload as it is.
func (db *DB) payloadSink(name string) (*sinkState, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	st, ok := db.sinks[name]
	if !ok {
		return nil, fmt.Errorf("deliver to sink:%s: no track stage has a sink named %q; add one, e.g. {type: jsonl, name: %s, path: data/%s.jsonl, usage_events: false}", name, name, name, name)
	}
	if w := st.worker.Load(); w != nil {
		if _, raw := w.sink.(RawSink); !raw {
			return nil, fmt.Errorf("deliver to sink:%s: its type takes usage events only; use a jsonl, http or stdout sink", name)
		}
	}
	return st, nil
}

// putPayload commits one payload to st's queue; concurrent calls share a
// transaction.
func (db *DB) putPayload(st *sinkState, payload []byte) error {
	size := int64(len(payload))
	if st.backlog.Load()+size > st.maxBacklog.Load() {
		return fmt.Errorf("deliver to %s: its queue is full (%d bytes stored, bound %d)", st.name, st.backlog.Load(), st.maxBacklog.Load())
	}
	// Batch may run the function again after a failed transaction, which
	// was rolled back: NextSequence and Put are then done once.
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueues).Bucket([]byte(st.name))
		if q == nil {
			return fmt.Errorf("the queue of %s is missing", st.name)
		}
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		return q.Put(u64(seq), payload)
	})
	if err != nil {
		return fmt.Errorf("tracking: persisting a payload for %s: %w", st.name, err)
	}
	st.backlog.Add(size)
	st.queued.Add(1)
	st.notify()
	return nil
}

// postEach POSTs each payload as its own request body.
type postEach struct{ h *sinks.HTTP }

func (p postEach) WriteJSON(ctx context.Context, payloads [][]byte) error {
	for _, b := range payloads {
		if err := p.h.PostBody(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// Write is never called: the outbox prefers WriteJSON.
func (p postEach) Write(context.Context, []*core.UsageEvent) error {
	return errors.New("a delivery queue holds payloads, not usage events")
}

func (p postEach) Close() error { return p.h.Close() }

var _ core.Deliverer = (*Deliverer)(nil)
