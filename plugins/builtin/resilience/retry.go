package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// RetryConfig configures the retry stage.
type RetryConfig struct {
	// MaxAttempts counts every attempt, the first included (default 3).
	MaxAttempts int `json:"max_attempts"`
	// InitialInterval is the first backoff (default 500ms); each next one
	// is Multiplier times longer (default 2), up to MaxInterval (default
	// 30s), each spread by ±Jitter of itself (default 0.5).
	InitialInterval pipeline.Duration `json:"initial_interval"`
	Multiplier      float64           `json:"multiplier"`
	MaxInterval     pipeline.Duration `json:"max_interval"`
	Jitter          *float64          `json:"jitter"`
	// MaxElapsed bounds the whole call, attempts and waits (default 2m): no
	// wait starts that would end past it.
	MaxElapsed pipeline.Duration `json:"max_elapsed"`
	// MaxRetryAfter is the longest wait an upstream may ask for with
	// Retry-After or its rate-limit reset headers (default 30s); asked for
	// longer, the call gives up at once and the client gets the upstream's
	// answer, Retry-After included.
	MaxRetryAfter pipeline.Duration `json:"max_retry_after"`
	// RetryOn lists the upstream statuses retried (default 429, 500, 502,
	// 503, 504, 529). Connection failures and timeouts waiting for the
	// answer are always retried.
	RetryOn []int `json:"retry_on"`
}

// DefaultRetryConfig returns the retry stage's defaults.
func DefaultRetryConfig() RetryConfig {
	j := 0.5
	return RetryConfig{MaxAttempts: 3, InitialInterval: pipeline.Duration(500 * time.Millisecond), Multiplier: 2,
		MaxInterval: pipeline.Duration(30 * time.Second), Jitter: &j, MaxElapsed: pipeline.Duration(2 * time.Minute),
		MaxRetryAfter: pipeline.Duration(30 * time.Second), RetryOn: DefaultRetryStatuses}
}

// Retry tries a failed upstream call again, with exponential backoff and
// jitter, honouring the wait the upstream asks for. It retries only
// failures of the upstream (see [DefaultRetryStatuses]) that came before
// any answer: call returns a stream as soon as the answer's headers arrive,
// so a stream that breaks after its first byte reached the client is never
// retried. Each retry increments the request's Retries (retry_count in the
// usage event) and is logged. It sits right around call (or breaker).
// Safe for concurrent use.
type Retry struct {
	cfg RetryConfig
	log *slog.Logger
}

func newRetry(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := DefaultRetryConfig()
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	r, err := NewRetry(cfg, env.Log)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", s.Path(), err)
	}
	return r, nil
}

// NewRetry returns a retry stage.
func NewRetry(cfg RetryConfig, log *slog.Logger) (*Retry, error) {
	if log == nil {
		log = slog.Default()
	}
	switch {
	case cfg.MaxAttempts < 1:
		return nil, errors.New("max_attempts: want at least 1 (1 means no retry)")
	case cfg.InitialInterval <= 0 || cfg.MaxInterval < cfg.InitialInterval:
		return nil, errors.New("initial_interval must be positive and max_interval at least as long")
	case cfg.Multiplier < 1:
		return nil, errors.New("multiplier: want at least 1")
	case cfg.Jitter != nil && (*cfg.Jitter < 0 || *cfg.Jitter > 1):
		return nil, errors.New("jitter: want a fraction between 0 and 1")
	case cfg.MaxElapsed <= 0:
		return nil, errors.New("max_elapsed: must be positive")
	}
	for i, s := range cfg.RetryOn {
		if s < 400 || s > 599 {
			return nil, fmt.Errorf("retry_on[%d]: want an HTTP error status (4xx or 5xx), got %d", i, s)
		}
	}
	if cfg.Jitter == nil {
		j := 0.5
		cfg.Jitter = &j
	}
	return &Retry{cfg: cfg, log: log}, nil
}

// Handle calls next until it succeeds, fails in a way another attempt
// cannot fix, or the attempts or time run out.
func (r *Retry) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	resp, err := next(ctx, req)
	if err == nil || r.cfg.MaxAttempts == 1 || !upstreamFailure(err, r.cfg.RetryOn) {
		return resp, err
	}
	drop(resp)
	start := time.Now()
	b := &backoff.ExponentialBackOff{InitialInterval: time.Duration(r.cfg.InitialInterval), RandomizationFactor: *r.cfg.Jitter,
		Multiplier: r.cfg.Multiplier, MaxInterval: time.Duration(r.cfg.MaxInterval)}
	b.Reset()
	for attempt := 1; ; attempt++ {
		wait := b.NextBackOff()
		if hint, ok := serverDelay(core.AsError(err).Header, time.Now()); ok {
			if hint > time.Duration(r.cfg.MaxRetryAfter) {
				return nil, r.giveUp(req, err, attempt, fmt.Sprintf("the upstream asks to wait %s, over max_retry_after %s", hint.Round(time.Millisecond), time.Duration(r.cfg.MaxRetryAfter)))
			}
			wait = hint
		}
		if attempt >= r.cfg.MaxAttempts {
			return nil, r.giveUp(req, err, attempt, fmt.Sprintf("%d attempts made (max_attempts)", attempt))
		}
		if time.Since(start)+wait > time.Duration(r.cfg.MaxElapsed) {
			return nil, r.giveUp(req, err, attempt, fmt.Sprintf("waiting %s more would pass max_elapsed %s", wait.Round(time.Millisecond), time.Duration(r.cfg.MaxElapsed)))
		}
		r.log.Info("retrying upstream call", "id", req.ID, "upstream", upstreamName(req), "attempt", attempt+1,
			"of", r.cfg.MaxAttempts, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			gone := core.ClientGone(ctx, err)
			gone.Message += " while the call waited to retry"
			return nil, gone
		case <-t.C:
		}
		req.Retries++
		resp, err = next(ctx, req)
		if err == nil || !upstreamFailure(err, r.cfg.RetryOn) {
			return resp, err
		}
		drop(resp)
	}
}

// giveUp ends a retried call with its last error. After at least one retry
// it is a retries_exhausted error that keeps the upstream's status, headers
// (Retry-After) and body, so the client sees what the provider said.
func (r *Retry) giveUp(req *core.Request, err error, attempts int, why string) error {
	if attempts == 1 {
		return err
	}
	last := core.AsError(err)
	r.log.Warn("upstream call failed after retries", "id", req.ID, "upstream", upstreamName(req), "attempts", attempts, "why", why, "err", err)
	return &core.Error{Kind: core.KindRetriesExhausted, Status: last.HTTPStatus(), Code: "retries_exhausted",
		Header: last.Header, Body: last.Body, Err: err,
		Message: fmt.Sprintf("upstream %q failed %d attempts (%s); last: %v", upstreamName(req), attempts, why, err)}
}

func upstreamName(req *core.Request) string {
	if req.Upstream == nil {
		return ""
	}
	return req.Upstream.Name
}

var _ core.Stage = (*Retry)(nil)
