package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bucket is one GCRA rate limit: Limit units per Window, of which a call
// takes Cost. A bucket is full again Window after it was emptied; up to
// Limit units may be taken at once.
type Bucket struct {
	Key    string
	Limit  int64
	Window time.Duration
	Cost   int64
}

// Lease is a concurrency limit: at most Limit calls hold a lease on Key at
// once. A lease not released within TTL (a replica that died mid-call)
// lapses.
type Lease struct {
	Key   string
	Limit int64
	TTL   time.Duration
}

// Decision is what [Store.Take] decided.
type Decision struct {
	// Allowed is true when every bucket had room and every lease was free;
	// then every bucket was charged and every lease taken, else nothing was.
	Allowed bool
	// Denied is the index of the first bucket that refused, or
	// len(buckets)+j when lease j did; -1 when allowed.
	Denied int
	// RetryAfter is how long until the refusing buckets would have room (0
	// when only a lease refused: that depends on other calls finishing).
	RetryAfter time.Duration
	// Remaining and Reset are per bucket: the units left after this call
	// (before it, when refused), and how long until the bucket is full. A
	// refusal reports them; the in-memory backend leaves them nil when
	// Allowed, as nothing reads them then.
	Remaining []int64
	Reset     []time.Duration
}

// takeScript checks every bucket and lease, and charges them only if all
// have room, so that a refused call costs nothing. Times are microseconds of
// the server's clock.
//
// KEYS: bucket keys..., lease keys...
// ARGV: n buckets, m leases, lease holder id, then per bucket: limit,
// window µs, cost; then per lease: limit, ttl µs.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
local denied = -1
local retry = 0
local news = {}
local out = {0, 0}
for i = 1, n do
  local limit = tonumber(ARGV[1 + i * 3])
  local window = tonumber(ARGV[2 + i * 3])
  local cost = tonumber(ARGV[3 + i * 3])
  local interval = window / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new = tat + cost * interval
  local allow_at = new - window
  if allow_at > now then
    if denied < 0 then denied = i - 1 end
    if allow_at - now > retry then retry = allow_at - now end
    out[#out + 1] = math.floor((now + window - tat) / interval)
    out[#out + 1] = tat - now
  else
    news[i] = new
    out[#out + 1] = math.floor((now + window - new) / interval)
    out[#out + 1] = new - now
  end
end
for j = 1, m do
  local key = KEYS[n + j]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + n * 3 + j * 2]) and denied < 0 then denied = n + j - 1 end
end
if denied < 0 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%.0f', news[i]), 'PX', math.ceil((news[i] - now) / 1000) + 1)
  end
  for j = 1, m do
    local ttl = tonumber(ARGV[3 + n * 3 + j * 2])
    redis.call('ZADD', KEYS[n + j], now + ttl, ARGV[3])
    redis.call('PEXPIRE', KEYS[n + j], math.ceil(ttl / 1000) + 1)
  end
end
out[1] = denied
out[2] = math.ceil(retry)
return out
`)

// Take charges every bucket and takes every lease for holder (a call's id)
// in one atomic step, or, if any of them has no room, charges nothing.
func (s *Store) Take(ctx context.Context, holder string, buckets []Bucket, leases []Lease) (Decision, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return Decision{}, err
	}
	defer cancel()
	keys := make([]string, 0, len(buckets)+len(leases))
	args := make([]any, 0, 3+3*len(buckets)+2*len(leases))
	args = append(args, len(buckets), len(leases), holder)
	for _, b := range buckets {
		keys = append(keys, b.Key)
		args = append(args, b.Limit, b.Window.Microseconds(), min(b.Cost, b.Limit))
	}
	for _, l := range leases {
		keys = append(keys, l.Key)
		args = append(args, l.Limit, l.TTL.Microseconds())
	}
	res, err := takeScript.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, s.fail(err)
	}
	s.ok()
	d := Decision{Denied: int(res[0]), RetryAfter: time.Duration(res[1]) * time.Microsecond,
		Remaining: make([]int64, len(buckets)), Reset: make([]time.Duration, len(buckets))}
	d.Allowed = d.Denied < 0
	for i := range buckets {
		d.Remaining[i] = max(res[2+2*i], 0)
		d.Reset[i] = time.Duration(max(res[3+2*i], 0)) * time.Microsecond
	}
	return d, nil
}

// adjustScript moves a bucket by delta units, up (charging more than was
// taken, never refusing) or down (refunding, never below empty).
//
// KEYS: bucket key. ARGV: limit, window µs, delta.
var adjustScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[2]) / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + tonumber(ARGV[3]) * interval
if new <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 1
`)

// Finish ends a call in one round trip: it charges each bucket its Cost
// more units (a negative Cost refunds, reconciling an estimate with what the
// call used) and gives holder's leases back. It runs even when ctx is done
// (the call's client went away): it keeps ctx's values, not its end.
func (s *Store) Finish(ctx context.Context, holder string, adjust []Bucket, leases []Lease) error {
	if len(adjust) == 0 && len(leases) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.pipeline(ctx, func(pipe redis.Pipeliner, script func(*redis.Script, []string, ...any)) {
		for _, b := range adjust {
			if b.Cost != 0 {
				script(adjustScript, []string{b.Key}, b.Limit, b.Window.Microseconds(), b.Cost)
			}
		}
		for _, l := range leases {
			pipe.ZRem(ctx, l.Key, holder)
		}
	})
	if err != nil {
		return s.fail(err)
	}
	s.ok()
	return nil
}
