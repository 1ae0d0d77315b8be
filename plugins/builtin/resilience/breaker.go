package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// BreakerConfig configures the breaker stage.
type BreakerConfig struct {
	// FailureRatio opens the breaker when at least this share of the calls
	// in Window failed (default 0.5), once there were MinRequests of them
	// (default 10).
	FailureRatio float64 `json:"failure_ratio"`
	MinRequests  uint32  `json:"min_requests"`
	// ConsecutiveFailures also opens it after this many failures in a row,
	// whatever the ratio (default 5; 0 turns it off).
	ConsecutiveFailures *uint32 `json:"consecutive_failures"`
	// Window is the rolling period failures are counted over (default 1m).
	Window pipeline.Duration `json:"window"`
	// OpenFor is how long an open breaker refuses calls before it lets
	// HalfOpenRequests probe calls through (defaults 30s and 1): if they
	// succeed it closes, if one fails it opens again.
	OpenFor          pipeline.Duration `json:"open_for"`
	HalfOpenRequests uint32            `json:"half_open_requests"`
	// FailOn lists the upstream statuses counted as failures (default 500,
	// 502, 503, 504, 529). Connection failures and timeouts always count;
	// the request's own 4xx never do.
	FailOn []int `json:"fail_on"`
}

// DefaultBreakerConfig returns the breaker stage's defaults.
func DefaultBreakerConfig() BreakerConfig {
	five := uint32(5)
	return BreakerConfig{FailureRatio: 0.5, MinRequests: 10, ConsecutiveFailures: &five,
		Window: pipeline.Duration(time.Minute), OpenFor: pipeline.Duration(30 * time.Second), HalfOpenRequests: 1,
		FailOn: DefaultBreakerStatuses}
}

// Breaker keeps a circuit breaker per upstream (sony/gobreaker). A call to
// an upstream whose breaker is open is refused at once with a 503 of kind
// circuit_open, carrying Retry-After: the time left before the breaker
// probes again; fallback, placed outside, routes around it. Breakers live
// in each replica: each learns on its own, within a few calls, that an
// upstream is down. Safe for concurrent use.
type Breaker struct {
	cfg      BreakerConfig
	log      *slog.Logger
	breakers sync.Map // upstream name -> *upstreamBreaker
}

type upstreamBreaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt atomic.Int64 // unix nanoseconds of the last opening
}

func newBreaker(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := DefaultBreakerConfig()
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	b, err := NewBreaker(cfg, env.Log)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", s.Path(), err)
	}
	return b, nil
}

// NewBreaker returns a breaker stage.
func NewBreaker(cfg BreakerConfig, log *slog.Logger) (*Breaker, error) {
	if log == nil {
		log = slog.Default()
	}
	switch {
	case cfg.FailureRatio <= 0 || cfg.FailureRatio > 1:
		return nil, errors.New("failure_ratio: want a fraction above 0 and at most 1, e.g. 0.5")
	case cfg.MinRequests < 1:
		return nil, errors.New("min_requests: want at least 1")
	case cfg.Window <= 0 || cfg.OpenFor <= 0:
		return nil, errors.New("window and open_for must be positive")
	}
	if cfg.HalfOpenRequests == 0 {
		cfg.HalfOpenRequests = 1
	}
	if cfg.ConsecutiveFailures == nil {
		five := uint32(5)
		cfg.ConsecutiveFailures = &five
	}
	return &Breaker{cfg: cfg, log: log}, nil
}

// Handle refuses a call to an upstream whose breaker is open, and otherwise
// counts the call's outcome.
func (b *Breaker) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	ub := b.breaker(upstreamName(req))
	done, err := ub.cb.Allow()
	if err != nil {
		return nil, b.open(req, ub, err)
	}
	resp, err := next(ctx, req)
	switch {
	case err == nil:
		done(nil)
	case ctx.Err() != nil:
		done(errExcluded) // the client went away: says nothing of the upstream
	case upstreamFailure(err, b.cfg.FailOn):
		done(err)
	default:
		done(nil) // the upstream answered; the request was at fault
	}
	return resp, err
}

var errExcluded = errors.New("excluded")

// breaker returns the upstream's breaker, making it on first use.
func (b *Breaker) breaker(name string) *upstreamBreaker {
	if v, ok := b.breakers.Load(name); ok {
		return v.(*upstreamBreaker)
	}
	ub := &upstreamBreaker{}
	window := time.Duration(b.cfg.Window)
	ub.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  b.cfg.HalfOpenRequests,
		Interval:     window,
		BucketPeriod: window / 10,
		Timeout:      time.Duration(b.cfg.OpenFor),
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if n := *b.cfg.ConsecutiveFailures; n > 0 && c.ConsecutiveFailures >= n {
				return true
			}
			return c.Requests >= b.cfg.MinRequests && float64(c.TotalFailures) >= b.cfg.FailureRatio*float64(c.Requests)
		},
		IsExcluded: func(err error) bool { return err == errExcluded },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				ub.openedAt.Store(time.Now().UnixNano())
				b.log.Warn("circuit breaker opened: calls to the upstream are refused", "upstream", name, "from", from.String(), "open_for", time.Duration(b.cfg.OpenFor))
				return
			}
			b.log.Info("circuit breaker changed state", "upstream", name, "from", from.String(), "to", to.String())
		},
	})
	v, _ := b.breakers.LoadOrStore(name, ub)
	return v.(*upstreamBreaker)
}

// open builds the 503 for a call refused by an open breaker.
func (b *Breaker) open(req *core.Request, ub *upstreamBreaker, cause error) error {
	left := time.Duration(b.cfg.OpenFor) - time.Since(time.Unix(0, ub.openedAt.Load()))
	if errors.Is(cause, gobreaker.ErrTooManyRequests) || left < 0 {
		left = 0 // half-open and its probes are in flight
	}
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(max(left.Round(time.Second), time.Second)/time.Second)))
	return &core.Error{Kind: core.KindCircuitOpen, Code: "circuit_open", Header: h, Err: cause,
		Message: fmt.Sprintf("upstream %q is failing and its circuit breaker is open: calls to it are refused for %s more; try again later or configure a fallback",
			upstreamName(req), left.Round(time.Second))}
}

// State reports the breaker state of an upstream: closed, half-open or open.
func (b *Breaker) State(upstream string) string {
	return b.breaker(upstream).cb.State().String()
}

var _ core.Stage = (*Breaker)(nil)
