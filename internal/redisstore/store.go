package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrDown is returned, wrapped, by every call while the store is marked down
// after a failure; errors.Is(err, ErrDown) holds for every failure of Redis.
var ErrDown = errors.New("redisstore: redis is unavailable")

// Options configures a [Store].
type Options struct {
	Addr      string
	Username  string
	Password  string
	DB        int
	TLS       bool
	KeyPrefix string
	// DialTimeout bounds opening a connection (default 1s).
	DialTimeout time.Duration
	// Timeout is every command's deadline (default 250ms).
	Timeout time.Duration
	// PoolSize is the most connections; 0 for the client's default.
	PoolSize int
	// DownFor is how long calls fail fast after a failure (default 1s; a
	// negative value turns fail-fast off).
	DownFor time.Duration
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.DownFor == 0 {
		o.DownFor = time.Second
	}
	return o
}

// Store is a shared Redis connection pool with deadlines and fail-fast. Open
// returns the same Store for the same server, database, user and prefix
// within a process; each Open is matched by a Close. Safe for concurrent
// use.
type Store struct {
	c       *redis.Client
	prefix  string
	timeout time.Duration
	downFor time.Duration
	id      string
	log     *slog.Logger

	downUntil atomic.Int64 // unix nanoseconds
	failures  atomic.Int64
	lastWarn  atomic.Int64
	refs      int // guarded by registryMu
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Store{}
)

// Open returns the store for o, connecting lazily: Open does not fail when
// Redis is down (calls do, per their stage's on_error), only when o is
// unusable.
func Open(o Options, log *slog.Logger) (*Store, error) {
	if o.Addr == "" {
		return nil, errors.New("redisstore: no address")
	}
	if log == nil {
		log = slog.Default()
	}
	o = o.withDefaults()
	id := fmt.Sprintf("%s/%d/%s/%s", o.Addr, o.DB, o.Username, o.KeyPrefix)
	registryMu.Lock()
	defer registryMu.Unlock()
	if s, ok := registry[id]; ok {
		s.refs++
		return s, nil
	}
	ro := &redis.Options{
		Addr:            o.Addr,
		Username:        o.Username,
		Password:        o.Password,
		DB:              o.DB,
		DialTimeout:     o.DialTimeout,
		ReadTimeout:     o.Timeout,
		WriteTimeout:    o.Timeout,
		PoolTimeout:     o.Timeout,
		PoolSize:        o.PoolSize,
		MaxRetries:      -1, // a failed command is reported, never retried here
		DisableIdentity: true,
	}
	if o.TLS {
		ro.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s := &Store{c: redis.NewClient(ro), prefix: o.KeyPrefix, timeout: o.Timeout, downFor: o.DownFor,
		id: id, log: log, refs: 1}
	registry[id] = s
	return s, nil
}

// Close releases this holder's reference; the last one closes the pool.
func (s *Store) Close() error {
	registryMu.Lock()
	defer registryMu.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(registry, s.id)
	return s.c.Close()
}

// Addr is the server's address, for messages.
func (s *Store) Addr() string { return s.c.Options().Addr }

// Key joins parts under the store's prefix: Key("rl", "acme") is
// "tollgate:rl:acme" with the default prefix.
func (s *Store) Key(parts ...string) string {
	n := len(s.prefix)
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, s.prefix...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	return string(b)
}

// Ping checks the server now, ignoring the fail-fast window.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return s.fail(err)
	}
	s.downUntil.Store(0)
	return nil
}

// begin starts a command: it fails fast while the store is down and
// otherwise returns a context bounded by the command deadline.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if until := s.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return nil, nil, fmt.Errorf("%w: %s is marked down after a failure (retrying within %s)", ErrDown, s.Addr(), s.downFor)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// fail classifies a command's error: a miss or a script's own answer is not
// a failure; anything else marks the store down and wraps ErrDown.
func (s *Store) fail(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if s.downFor > 0 {
		s.downUntil.Store(time.Now().Add(s.downFor).UnixNano())
	}
	s.failures.Add(1)
	return fmt.Errorf("%w: %s: %v", ErrDown, s.Addr(), err)
}

// ok records a successful command.
func (s *Store) ok() { s.downUntil.Store(0) }

// Failures counts failed commands since the store was opened.
func (s *Store) Failures() int64 { return s.failures.Load() }

// Warn logs a Redis failure loudly, at most once per second per store, with
// the number of failures since the last warning. what says what the caller
// does about it ("rate limits are not enforced").
func (s *Store) Warn(stage, what string, err error) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(time.Second) || !s.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s.log.Error("REDIS UNAVAILABLE: "+what, "stage", stage, "redis", s.Addr(), "failures", s.failures.Load(), "err", err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pipeline sends the commands build queues in one round trip. Scripts run
// by their SHA; if the server does not have one (a fresh or restarted
// Redis), the whole pipeline is sent again with the scripts' source, which
// loads them.
func (s *Store) pipeline(ctx context.Context, build func(pipe redis.Pipeliner, script func(*redis.Script, []string, ...any))) error {
	for _, bySHA := range []bool{true, false} {
		pipe := s.c.Pipeline()
		build(pipe, func(sc *redis.Script, keys []string, args ...any) {
			if bySHA {
				sc.EvalSha(ctx, pipe, keys, args...)
			} else {
				sc.Eval(ctx, pipe, keys, args...)
			}
		})
		_, err := pipe.Exec(ctx)
		if err == nil || !bySHA || !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err
		}
	}
	return nil
}
