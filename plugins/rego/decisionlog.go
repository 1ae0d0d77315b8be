package rego

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/rego/internal/plan"
)

// DecisionRecord is one decision as logged, shaped like OPA's decision
// logs (decision_id, path, input, result, erased, timestamp, metrics) plus
// the call it was made for.
type DecisionRecord struct {
	DecisionID string            `json:"decision_id"`
	Labels     map[string]string `json:"labels"`
	Path       string            `json:"path"`
	Revision   string            `json:"revision"`
	RequestID  string            `json:"request_id"`
	Customer   string            `json:"customer_id,omitempty"`
	Phase      string            `json:"phase"`
	Input      any               `json:"input,omitempty"`
	Result     any               `json:"result,omitempty"`
	Denied     bool              `json:"denied"`
	Reasons    []string          `json:"reasons,omitempty"`
	Error      string            `json:"error,omitempty"`
	Erased     []string          `json:"erased,omitempty"`
	Timestamp  time.Time         `json:"timestamp"`
	Metrics    map[string]int64  `json:"metrics"`
}

// decisionLog hands decisions to a background goroutine, which masks,
// encodes and delivers them: the call pays for one channel send. When the
// buffer is full a decision is dropped and counted, never waited for.
type decisionLog struct {
	s       *Stage
	cfg     *DecisionLogConfig
	deliver core.Deliverer
	queue   chan pending
	done    chan struct{}
	mu      sync.RWMutex // held to send; taken to close the queue
	closed  bool
	file    *os.File
	dropped atomic.Int64
}

type pending struct {
	rec   DecisionRecord
	input ast.Value
	value ast.Value
}

func newDecisionLog(s *Stage, cfg *DecisionLogConfig, d core.Deliverer) (*decisionLog, error) {
	l := &decisionLog{s: s, cfg: cfg, deliver: d, queue: make(chan pending, cfg.Buffer), done: make(chan struct{})}
	if cfg.Path != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
			return nil, fmt.Errorf("decision_log.path: %w", err)
		}
		f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("decision_log.path: %w", err)
		}
		l.file = f
	}
	go l.run()
	return l, nil
}

// record queues one decision.
func (l *decisionLog) record(req *core.Request, p *policy, phase string, in, v ast.Value, d decision, err error, start time.Time) {
	if l.cfg.DeniedOnly && len(d.deny) == 0 && err == nil {
		return
	}
	path := l.s.cfg.Query
	if phase == PhaseResponse {
		path = l.s.cfg.ResponseQuery
	}
	rec := DecisionRecord{
		DecisionID: core.NewID(), Labels: map[string]string{"app": "tollgate", "stage": l.s.name},
		Path: strings.ReplaceAll(strings.TrimPrefix(path, "data."), ".", "/"), Revision: p.revision,
		RequestID: req.ID, Customer: req.Customer, Phase: phase, Denied: len(d.deny) > 0, Reasons: d.deny,
		Timestamp: start.UTC(), Metrics: map[string]int64{"timer_rego_query_eval_ns": time.Since(start).Nanoseconds()},
	}
	if err != nil {
		rec.Error = err.Error()
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return // a call finishing on a retired pipeline
	}
	select {
	case l.queue <- pending{rec: rec, input: plan.ToOPA(ast.NewTerm(in)).Value, value: v}:
	default:
		l.dropped.Add(1)
	}
}

func (l *decisionLog) run() {
	defer close(l.done)
	for p := range l.queue {
		l.write(p)
	}
}

// write masks, encodes and delivers one decision.
func (l *decisionLog) write(p pending) {
	rec := p.rec
	if in, err := ast.JSON(p.input); err == nil {
		rec.Input = in
		rec.Erased = mask(rec.Input, *l.cfg.Mask)
	}
	if p.value != nil {
		rec.Result, _ = ast.JSON(p.value)
	}
	payload, err := json.Marshal(rec)
	if err != nil {
		l.s.log.Warn("decision log: cannot encode a decision", "id", rec.RequestID, "err", err)
		return
	}
	if l.cfg.Console {
		l.s.log.Info("decision", "decision", json.RawMessage(payload))
	}
	if l.file != nil {
		if _, err := l.file.Write(append(payload, '\n')); err != nil {
			l.dropped.Add(1)
			l.s.log.Warn("decision log: cannot write the file", "path", l.cfg.Path, "err", err)
		}
	}
	if l.cfg.Sink != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.deliver.Deliver(ctx, "sink:"+l.cfg.Sink, payload); err != nil {
			l.dropped.Add(1)
			l.s.log.Warn("decision log: delivery failed", "sink", l.cfg.Sink, "id", rec.RequestID, "err", err)
		}
	}
}

// mask erases the fields at the given paths ("/input/request/body") from
// the decoded input and returns the paths it erased.
func mask(input any, paths []string) []string {
	var erased []string
	for _, p := range paths {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		if len(parts) < 2 || parts[0] != "input" {
			continue
		}
		m, ok := input.(map[string]any)
		for _, k := range parts[1 : len(parts)-1] {
			if !ok {
				break
			}
			m, ok = m[k].(map[string]any)
		}
		if !ok {
			continue
		}
		last := parts[len(parts)-1]
		if _, present := m[last]; present {
			delete(m, last)
			erased = append(erased, p)
		}
	}
	return erased
}

// close hands what is queued to its file or sink, within
// [core.PersistContext] of ctx.
func (l *decisionLog) close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	close(l.queue)
	l.mu.Unlock()
	select {
	case <-l.done:
		if l.file != nil {
			return l.file.Close()
		}
		return nil
	case <-core.PersistContext(ctx).Done(): // a hand-off to a file or an outbox: saving, not delivering
		return fmt.Errorf("decision log: %d decisions not delivered before the deadline", len(l.queue))
	}
}
