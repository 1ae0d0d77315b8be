package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redisstore"
)

// backend keeps the buckets and leases: memory for one replica, Redis for
// many. Both run the same GCRA arithmetic, so a limit means the same thing
// on either.
type backend interface {
	Take(ctx context.Context, holder string, buckets []redisstore.Bucket, leases []redisstore.Lease) (redisstore.Decision, error)
	Finish(ctx context.Context, holder string, adjust []redisstore.Bucket, leases []redisstore.Lease) error
}

// memory is the in-process backend: GCRA buckets (one theoretical arrival
// time per key) and lease counts, under one mutex — a check is a few map
// operations, far below the cost of sharding. Idle buckets are swept now and
// then so that the map holds only keys in use.
type memory struct {
	mu     sync.Mutex
	tats   map[string]time.Time
	leases map[string]int64
	ops    int
}

func newMemory() *memory {
	return &memory{tats: map[string]time.Time{}, leases: map[string]int64{}}
}

// sweepEvery is how many calls pass between sweeps of idle buckets.
const sweepEvery = 4096

func (m *memory) Take(_ context.Context, _ string, buckets []redisstore.Bucket, leases []redisstore.Lease) (redisstore.Decision, error) {
	now := time.Now()
	d := redisstore.Decision{Denied: -1}
	var newsBuf [4]time.Time
	news := newsBuf[:0]
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	if m.ops%sweepEvery == 0 {
		m.sweep(now)
	}
	for i, b := range buckets {
		tat := m.tat(b.Key, now)
		next := tat.Add(time.Duration(float64(min(b.Cost, b.Limit)) * interval(b)))
		if allowAt := next.Add(-b.Window); allowAt.After(now) {
			if d.Denied < 0 {
				d.Denied = i
			}
			d.RetryAfter = max(d.RetryAfter, allowAt.Sub(now))
		}
		news = append(news, next)
	}
	for j, l := range leases {
		if m.leases[l.Key] >= l.Limit && d.Denied < 0 {
			d.Denied = len(buckets) + j
		}
	}
	if d.Allowed = d.Denied < 0; !d.Allowed {
		m.report(&d, buckets, news, now)
		return d, nil
	}
	for i, b := range buckets {
		m.tats[b.Key] = news[i]
	}
	for _, l := range leases {
		m.leases[l.Key]++
	}
	return d, nil
}

// report fills in a refusal's per-bucket remaining units and reset times;
// the caller holds mu.
func (m *memory) report(d *redisstore.Decision, buckets []redisstore.Bucket, news []time.Time, now time.Time) {
	d.Remaining, d.Reset = make([]int64, len(buckets)), make([]time.Duration, len(buckets))
	for i, b := range buckets {
		tat, next, iv := m.tat(b.Key, now), news[i], interval(b)
		if next.Add(-b.Window).After(now) { // this bucket refused: it is as before the call
			d.Remaining[i] = max(int64(float64(now.Add(b.Window).Sub(tat))/iv), 0)
			d.Reset[i] = tat.Sub(now)
		} else {
			d.Remaining[i] = max(int64(float64(now.Add(b.Window).Sub(next))/iv), 0)
			d.Reset[i] = next.Sub(now)
		}
	}
}

// tat is a bucket's theoretical arrival time, never before now.
func (m *memory) tat(key string, now time.Time) time.Time {
	if tat := m.tats[key]; tat.After(now) {
		return tat
	}
	return now
}

// interval is the time one unit of a bucket takes to come back.
func interval(b redisstore.Bucket) float64 { return float64(b.Window) / float64(b.Limit) }

func (m *memory) Finish(_ context.Context, _ string, adjust []redisstore.Bucket, leases []redisstore.Lease) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range adjust {
		if b.Cost == 0 {
			continue
		}
		tat := m.tats[b.Key]
		if tat.Before(now) {
			tat = now
		}
		next := tat.Add(time.Duration(float64(b.Cost) * float64(b.Window) / float64(b.Limit)))
		if next.After(now) {
			m.tats[b.Key] = next
		} else {
			delete(m.tats, b.Key)
		}
	}
	for _, l := range leases {
		if n := m.leases[l.Key] - 1; n > 0 {
			m.leases[l.Key] = n
		} else {
			delete(m.leases, l.Key)
		}
	}
	return nil
}

// sweep drops buckets that are full again; the caller holds mu.
func (m *memory) sweep(now time.Time) {
	for k, tat := range m.tats {
		if !tat.After(now) {
			delete(m.tats, k)
		}
	}
}

var _ backend = (*memory)(nil)
var _ backend = (*redisstore.Store)(nil)
