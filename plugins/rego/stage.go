package rego

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

func init() { pipeline.RegisterKind("rego", newStage) }

// Stage runs Rego policies on calls: on the request before it goes
// upstream (deny, patch the body, add response headers) and, with phase
// response or both, on the answer (deny, and for a whole body patch it).
// It is safe for concurrent use; a reload swaps its policies atomically,
// and a call in flight finishes on the policies it started with.
type Stage struct {
	name     string
	cfg      Config
	timeout  time.Duration
	failOpen bool
	log      *slog.Logger
	spend    core.SpendReader
	usage    usageCache
	dlog     *decisionLog

	cur atomic.Pointer[policy]

	// statistics and reload state, for Statuses
	evaluated, denied, failed, cached atomic.Int64
	mu                                sync.Mutex
	reloads                           int
	lastErr                           string
	lastErrAt                         time.Time
	failedStamp                       string

	stop    chan struct{}
	stopped chan struct{}
}

func newStage(s pipeline.Spec, env pipeline.Env) (any, error) {
	var cfg Config
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	return New(s.Name, cfg, s.OnError, env)
}

// New builds a rego stage named name from its config: it loads, compiles
// and prepares the policies, and unless env.CheckOnly starts watching their
// files. onError is the entry's on_error ("" is fail_closed). Every compile
// error is reported, each with its file and line.
func New(name string, cfg Config, onError string, env pipeline.Env) (*Stage, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Stage{
		name: name, cfg: cfg, timeout: time.Duration(cfg.EvalTimeout),
		failOpen: onError == pipeline.FailOpen, log: log.With("stage", name),
		spend: env.Spend, usage: usageCache{ttl: time.Duration(cfg.UsageRefresh)},
	}
	p, err := build(context.Background(), &s.cfg)
	if err != nil {
		return nil, err
	}
	s.cur.Store(p)
	s.logEngines(p)
	if p.needs.usage && env.Spend == nil && !env.CheckOnly {
		s.log.Warn("the policies read input.usage but no usage ledger is configured: input.usage is left out, so budget rules cannot fire; add a track stage with the ledger")
	}
	if d := cfg.DecisionLog; d != nil {
		if d.Sink != "" && env.Deliverer == nil && !env.CheckOnly {
			return nil, fmt.Errorf("config: decision_log.sink: no tracking outbox is configured to deliver to sink %q; add a track stage, or set console: true", d.Sink)
		}
		if !env.CheckOnly {
			if s.dlog, err = newDecisionLog(s, d, env.Deliverer); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
		}
	}
	if env.CheckOnly {
		return s, nil
	}
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	if *cfg.Reload {
		go s.watch(time.Duration(cfg.ReloadInterval))
	} else {
		close(s.stopped)
	}
	register(s)
	return s, nil
}

// logEngines says which queries of a new generation are left to topdown,
// and why: once per generation, not per call.
func (s *Stage) logEngines(p *policy) {
	for _, e := range p.engines {
		s.log.Info(e, "revision", p.revision)
	}
}

// DefaultOnError is fail_closed: a policy that cannot decide refuses.
func (s *Stage) DefaultOnError() string { return pipeline.FailClosed }

// Handle checks the request, calls next, and checks the answer.
func (s *Stage) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	p := s.cur.Load()
	var itemBuf [maxItems][2]*ast.Term // on the stack: the input copies what it holds
	items, err := s.requestItems(ctx, req, p.needs, itemBuf[:0])
	if err != nil {
		s.failed.Add(1)
		return nil, fmt.Errorf("reading the customer's usage for input.usage: %w", err)
	}
	var d decision
	if p.req != nil {
		in := withPhase(items, phaseRequest, nil)
		d, err = s.decide(ctx, p, p.req, req, PhaseRequest, in)
		if err != nil {
			return nil, err // on_error decides
		}
		if len(d.deny) > 0 {
			return nil, s.refusal(d, PhaseRequest)
		}
		if d.patch != nil {
			// A model that is not a name would go upstream in the body
			// while the gateway routes and meters the old one.
			m := d.patch.Get(keyModel)
			model, ok := ast.String(""), true
			if m != nil {
				model, ok = m.Value.(ast.String)
			}
			if !ok || m != nil && model == "" {
				s.failed.Add(1)
				return nil, fmt.Errorf("the policy's patch sets model to %s: want a model name (a string)", m)
			}
			body, err := applyPatch(req.Body, d.patch)
			if err != nil {
				s.failed.Add(1)
				return nil, fmt.Errorf("applying the policy's patch: %w", err)
			}
			req.SetBody(body)
			if m != nil {
				req.Model = string(model)
			}
		}
	}
	resp, err := next(ctx, req)
	if err != nil || resp == nil {
		if d.headers != nil {
			var e *core.Error
			if errors.As(err, &e) {
				if e.Header == nil {
					e.Header = http.Header{}
				}
				setHeaders(e.Header, d.headers)
			}
		}
		return resp, err
	}
	if d.headers != nil {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		setHeaders(resp.Header, d.headers)
	}
	if p.resp == nil {
		return resp, nil
	}
	return s.checkResponse(ctx, p, req, items, resp)
}

// decide evaluates one query and reads its decision, counting and logging
// it.
func (s *Stage) decide(ctx context.Context, p *policy, q queryRef, req *core.Request, phase string, in ast.Value) (decision, error) {
	start := time.Now()
	res, d, err := s.evaluate(ctx, p, q, in)
	s.evaluated.Add(1)
	if err != nil {
		s.failed.Add(1)
		err = fmt.Errorf("%s policy (%s): %w", phase, p.revision, err)
	} else if len(d.deny) > 0 {
		s.denied.Add(1)
	}
	if s.dlog != nil {
		s.dlog.record(req, p, phase, in, res.document(), d, err, start)
	}
	return d, err
}

// evaluate evaluates a query and reads its decision, or takes the decision
// from the query's decision cache when the call's fields were decided
// before.
func (s *Stage) evaluate(ctx context.Context, p *policy, q queryRef, in ast.Value) (result, decision, error) {
	var (
		h     uint64
		vals  [maxKeyFields]ast.Value
		keyed bool
	)
	if dc := q.cache; dc != nil {
		if h, keyed = dc.key(in, &vals); keyed {
			if c := dc.get(h, &vals); c != nil {
				s.cached.Add(1)
				d := c.d
				d.deny = slices.Clone(d.deny) // the caller's to keep
				return c.res, d, nil
			}
		}
	}
	res, err := p.eval(ctx, q, in, s.timeout)
	if err != nil {
		return res, decision{}, err
	}
	d, err := readDecision(&res)
	if err == nil && keyed {
		q.cache.put(h, &vals, res, decision{deny: slices.Clone(d.deny), patch: d.patch, headers: d.headers})
	}
	return res, d, err
}

// refusal is the error a denial answers with: 403 in the provider's error
// shape, every reason in the message, and the reasons on the usage event.
func (s *Stage) refusal(d decision, phase string) *core.Error {
	what := "the request was refused by policy"
	if phase == PhaseResponse {
		what = "the answer was withheld by policy"
	}
	e := &core.Error{Kind: core.KindDenied, Code: "policy_denied", Stage: s.name,
		Message: what + ": " + strings.Join(d.deny, "; "), Reasons: d.deny}
	if d.headers != nil {
		e.Header = http.Header{}
		setHeaders(e.Header, d.headers)
	}
	return e
}

// policyFailure is how a response-phase failure refuses the answer under
// fail_closed: as a refusal, so that the tokens already spent are still
// counted, with status 500.
func (s *Stage) policyFailure(err error) *core.Error {
	reason := "the response policy failed, so the answer was withheld (on_error: fail_closed): " + err.Error()
	return &core.Error{Kind: core.KindDenied, Status: http.StatusInternalServerError, Code: "policy_error",
		Stage: s.name, Message: reason, Reasons: []string{reason}, Err: err}
}

// Close stops the watcher, flushes the decision log within ctx, and
// removes the stage from [Statuses].
func (s *Stage) Close(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.stopped
	unregister(s)
	if s.dlog != nil {
		return s.dlog.close(ctx)
	}
	return nil
}

var (
	_ core.Stage         = (*Stage)(nil)
	_ pipeline.Closer    = (*Stage)(nil)
	_ pipeline.Defaulter = (*Stage)(nil)
)
