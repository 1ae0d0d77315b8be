package rego

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// policy is one compiled generation of a stage's policies: its prepared
// queries and what they read of the input. It is immutable; a reload
// builds a new one and swaps it in.
type policy struct {
	req, resp *rego.PreparedEvalQuery
	needs     needs
	files     []string
	stamp     string // fingerprint of the files: names, sizes, mtimes
	revision  string // sha256 of the policy sources, short
	loadedAt  time.Time
}

// build loads, compiles and prepares the policies a config names.
func build(ctx context.Context, cfg *Config) (*policy, error) {
	src, err := load(cfg.Paths, cfg.Data)
	if err != nil {
		return nil, err
	}
	caps := capabilities(cfg.AllowNetwork)
	c, err := compile(src.modules, caps)
	if err != nil {
		return nil, err
	}
	store := newStore(src.data)
	p := &policy{needs: analyze(c), files: src.files, stamp: stamp(src.files), revision: revision(src), loadedAt: time.Now()}
	prepare := func(query string) (*rego.PreparedEvalQuery, error) {
		if err := checkQuery(c, query); err != nil {
			return nil, err
		}
		opts := append(builtinOptions(),
			rego.Query(query),
			rego.Compiler(c),
			rego.Store(store),
			rego.Capabilities(caps),
			rego.StoreReadAST(true),
			rego.GenerateJSON(rawTerm),
		)
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", query, err)
		}
		return &pq, nil
	}
	var errs []error
	if cfg.Query != "" {
		p.req, err = prepare(cfg.Query)
		errs = append(errs, err)
	}
	if cfg.ResponseQuery != "" {
		p.resp, err = prepare(cfg.ResponseQuery)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// rawTerm hands back query results as OPA values: the decision is read
// straight from them, with no conversion to Go maps.
func rawTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }

// noMetrics spares each evaluation a metrics allocation.
var noMetrics = metrics.NoOp()

// errTimeout is the cause of an evaluation that ran past its deadline.
var errTimeout = errors.New("policy evaluation timed out")

// eval evaluates a prepared query on an input and returns the decision
// document (nil when the query is undefined). It cancels the evaluation at
// the deadline without a goroutine of its own.
func eval(ctx context.Context, q *rego.PreparedEvalQuery, input ast.Value, timeout time.Duration) (ast.Value, error) {
	c := topdown.NewCancel()
	t := time.AfterFunc(timeout, c.Cancel)
	rs, err := q.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalExternalCancel(c),
		rego.EvalMetrics(noMetrics),
	)
	t.Stop()
	if err != nil {
		var te *topdown.Error
		if errors.As(err, &te) && te.Code == topdown.CancelErr {
			return nil, fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	v, _ := rs[0].Expressions[0].Value.(ast.Value)
	return v, nil
}

// stamp fingerprints files by name, size and modification time: cheap to
// recompute every poll, and it changes whenever an editor saves.
func stamp(files []string) string {
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(h, "%s missing\n", f)
			continue
		}
		fmt.Fprintf(h, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// revision hashes the policy sources and data: two loads of the same
// policies have the same revision.
func revision(src *sources) string {
	h := sha256.New()
	for _, f := range src.files {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// queryRef is a prepared query.
type queryRef = *rego.PreparedEvalQuery
