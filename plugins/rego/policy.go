package rego

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/tollgate-dev/tollgate/plugins/rego/internal/plan"
)

// policy is one compiled generation of a stage's policies: its prepared
// queries and what they read of the input. It is immutable; a reload
// builds a new one and swaps it in.
type policy struct {
	req, resp *prepared
	needs     needs
	compiler  *ast.Compiler
	store     storage.Store
	// txn is a read transaction on the generation's store, open for its
	// lifetime and shared by every evaluation: the store is never written
	// after it is built, and a read transaction of OPA's in-memory store
	// holds no per-reader state.
	txn  storage.Transaction
	data dataCache
	// dataTerm is the whole data document, for plans (they look base
	// documents up from data themselves); caps are handed to built-ins.
	dataTerm *ast.Term
	caps     *ast.Capabilities
	// engines says, per query, which evaluator runs it and why (logged
	// once per generation).
	engines  []string
	files    []string
	stamp    string // fingerprint of the files: names, sizes, mtimes
	revision string // sha256 of the policy sources, short
	loadedAt time.Time
}

// prepared is a query compiled once, when the policies are built.
type prepared struct {
	body ast.Body
	// pkg is set when the query names a package: its deny, patch and
	// headers are then evaluated one by one, and nothing else in it.
	pkg bool
	// keys counts the decision keys a package query evaluates (those the
	// package defines); with one, key is it and the query has no loop.
	keys int
	key  *ast.Term
	// cache, if set, holds decisions for calls alike in the fields the
	// query's rules read (request queries only; see decisionCache).
	cache *decisionCache
	// decisionKeys are the keys a package query evaluates.
	decisionKeys []*ast.Term
	// plan, if set, evaluates the query in place of topdown (engine.go).
	plan *planned
}

// Variables of the prepared queries.
var (
	varKey   = ast.Var("__tollgate_key__")
	varValue = ast.Var("__tollgate_value__")
)

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
	n := analyze(c, cfg.Query, cfg.ResponseQuery)
	if cfg.DecisionLog != nil {
		// The decision log shows the call's small fields whether or not
		// the policies read them, and, when the policies read some fields
		// of the body, the body whole, as the client sent it.
		n.fields = allFields
		if n.anyBody() && cfg.logsBody() {
			n.body, n.bodyKeys = true, nil
		}
	}
	p := &policy{needs: n, compiler: c, store: store, files: src.files, stamp: stamp(src.files), revision: revision(src), loadedAt: time.Now()}
	if p.txn, err = store.NewTransaction(ctx); err != nil {
		return nil, err
	}
	root := readData(store, p.txn)
	p.data = newDataCache(root)
	p.store = dataStore{Store: store, data: p.data}
	if root == nil {
		root = ast.NewObject()
	}
	p.dataTerm, p.caps = ast.NewTerm(root), caps
	var errs []error
	if cfg.Query != "" {
		p.req, err = prepare(c, p.data, cfg.Query)
		errs = append(errs, err)
		if err == nil && *cfg.DecisionCache {
			p.req.cache = newDecisionCache(c, cfg.Query)
		}
	}
	if cfg.ResponseQuery != "" {
		p.resp, err = prepare(c, p.data, cfg.ResponseQuery)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		q     *prepared
		query string
	}{{p.req, cfg.Query}, {p.resp, cfg.ResponseQuery}} {
		if x.q == nil || x.q.keys == 0 {
			continue
		}
		var why string
		if x.q.plan, why = planQuery(ctx, c, x.query, x.q, x.q.decisionKeys); why != "" {
			p.engines = append(p.engines, fmt.Sprintf("%s is evaluated by OPA's evaluator (topdown), not from its plan: %s", x.query, why))
		}
	}
	return p, nil
}

// prepare compiles a query (a reference under data). A query that names a
// package is compiled to evaluate only the package's deny, patch and
// headers, one at a time, rather than every rule in the package into one
// object: helper rules (a guardrail's config lookups, its tables) are
// evaluated only as far as those three need them, and no object is built
// for the package.
func prepare(c *ast.Compiler, data dataCache, query string) (*prepared, error) {
	if err := checkQuery(c, query); err != nil {
		return nil, err
	}
	ref := ast.MustParseRef(query)
	node := packageNode(c, ref)
	q := &prepared{pkg: node != nil}
	switch {
	case !q.pkg:
		q.keys = 1
		q.body = ast.NewBody(ast.Equality.Expr(ast.NewTerm(varValue), ast.NewTerm(ref)))
	default:
		var keys []*ast.Term
		for _, k := range []*ast.Term{keyDeny, keyPatch, keyHeadersOut} {
			if node.Child(k.Value) != nil || data.Get(ref.Append(k)) != nil {
				keys = append(keys, k)
			}
		}
		if err := checkDecisionTypes(c, ref, node); err != nil {
			return nil, err
		}
		q.keys, q.decisionKeys = len(keys), keys
		switch len(keys) {
		case 0:
			return q, nil
		case 1:
			// value = <query>.deny
			q.key = keys[0]
			q.body = ast.NewBody(ast.Equality.Expr(ast.NewTerm(varValue), ast.NewTerm(ref.Append(q.key))))
		default:
			// key = ["deny", "patch", "headers"][_]; value = <query>[key]
			q.body = ast.NewBody(
				ast.Equality.Expr(ast.NewTerm(varKey), ast.RefTerm(ast.ArrayTerm(keys...), ast.VarTerm("__tollgate_i__"))),
				ast.Equality.Expr(ast.NewTerm(varValue), ast.NewTerm(ref.Append(ast.NewTerm(varKey)))),
			)
		}
	}
	body, err := c.QueryCompiler().Compile(q.body)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	q.body = body
	return q, nil
}

// packageNode returns the rule tree's node for ref when ref names a
// package (or a part of the data tree above rules), nil when it names a
// rule or a value inside one.
func packageNode(c *ast.Compiler, ref ast.Ref) *ast.TreeNode {
	node := c.RuleTree
	for _, t := range ref {
		if node = node.Child(t.Value); node == nil || len(node.Values) > 0 {
			return nil
		}
	}
	return node
}

// noMetrics spares each evaluation a metrics allocation.
var noMetrics = metrics.NoOp()

// errTimeout is the cause of an evaluation that ran past its deadline.
var errTimeout = errors.New("policy evaluation timed out")

// result is what a query evaluated to: a rule query's value, or the
// decision keys a package query found. The package's decision object is
// built only when asked for (for the decision log).
type result struct {
	value ast.Value
	pkg   bool
	items [3][2]*ast.Term
	n     int
}

// document returns the decision document: nil when undefined.
func (r *result) document() ast.Value {
	if !r.pkg {
		return r.value
	}
	if r.n == 0 {
		return nil
	}
	var items [3][2]*ast.Term
	for i, it := range r.items[:r.n] {
		items[i] = [2]*ast.Term{it[0], plan.ToOPA(it[1])}
	}
	return ast.NewObject(items[:r.n]...)
}

// get returns a key of the decision document: nil when undefined or when
// the document is not an object. A value from a plan may hold the
// evaluator's own objects and arrays (plan.ObjectOf reads an object,
// plan.ToOPA converts).
func (r *result) get(k *ast.Term) *ast.Term {
	if !r.pkg {
		if obj, ok := r.value.(ast.Object); ok {
			return obj.Get(k)
		}
		return nil
	}
	for _, it := range r.items[:r.n] {
		if it[0].Equal(k) {
			return it[1]
		}
	}
	return nil
}

// eval evaluates a prepared query on an input: from its plan when it has
// one, else with topdown. It cancels the evaluation at the deadline
// without a goroutine of its own.
func (p *policy) eval(ctx context.Context, q *prepared, input ast.Value, timeout time.Duration) (result, error) {
	if q.plan != nil {
		res, err := p.evalPlan(ctx, q, input, timeout)
		if !errors.Is(err, errFallback) {
			return res, err
		}
	}
	return p.evalTraced(ctx, q, input, timeout, nil)
}

// evalTraced evaluates with topdown, with an optional tracer (OPA's
// profiler, in tests).
//
// The evaluation goes to OPA's evaluator (topdown) directly, as
// rego.PreparedEvalQuery.Eval does, minus what a stage never uses
// (metrics, instrumentation, a result set with Go values): with the shared
// transaction, the generation's data cache and pooled per-evaluation state
// (rule cache, deadline timer), an evaluation allocates little beyond what
// the rules it evaluates do.
func (p *policy) evalTraced(ctx context.Context, q *prepared, input ast.Value, timeout time.Duration, tracer topdown.QueryTracer) (result, error) {
	if q.keys == 0 {
		return result{pkg: q.pkg}, nil // the package defines none of deny, patch and headers
	}
	st := getEvalState()
	st.q, st.n, st.value = q, 0, nil
	st.timer.Reset(timeout)
	tq := topdown.NewQuery(q.body).
		WithCompiler(p.compiler).
		WithStore(p.store).
		WithTransaction(p.txn).
		WithBuiltins(tollgateBuiltins).
		WithMetrics(noMetrics).
		WithIndexing(true).
		WithEarlyExit(true).
		// A built-in's error (a bad regular expression, to_number("1k"),
		// 1/0) fails the evaluation: OPA's default makes the expression
		// undefined, which silently allows a call a deny rule meant to
		// check. The plan evaluator does the same (plan.Env).
		WithStrictBuiltinErrors(true).
		WithVirtualCache(st.rules).
		WithBaseCache(p.data).
		WithRequestMetadata(st.meta).
		WithInput(plan.ToOPA(ast.NewTerm(input))).
		WithCancel(&st.deadline)
	if tracer != nil {
		tq = tq.WithQueryTracer(tracer)
	}
	err := tq.Iter(ctx, st.collect)
	res := result{value: st.value, pkg: q.pkg, items: st.items, n: st.n}
	st.release()
	if err != nil {
		return result{}, evalError(err, timeout)
	}
	return res, nil
}

// evalError names an evaluation cancelled by its deadline as errTimeout,
// for either engine; other errors pass as they are.
func evalError(err error, timeout time.Duration) error {
	var te *topdown.Error
	if errors.As(err, &te) && te.Code == topdown.CancelErr {
		return fmt.Errorf("%w after %s", errTimeout, timeout)
	}
	return err
}

// evalState is what one evaluation needs besides the query and input,
// pooled: the rule cache, the deadline and its timer, the result.
type evalState struct {
	rules    *ruleCache
	deadline deadline
	timer    *time.Timer
	meta     map[string]any
	collect  func(topdown.QueryResult) error

	q     *prepared
	value ast.Value
	items [3][2]*ast.Term
	n     int
}

var evalStates sync.Pool

func getEvalState() *evalState {
	if st, ok := evalStates.Get().(*evalState); ok {
		return st
	}
	st := &evalState{rules: getRuleCache(), meta: map[string]any{}}
	st.timer = time.AfterFunc(time.Hour, st.deadline.Cancel)
	st.timer.Stop()
	st.collect = st.result
	return st
}

// result records one result of the query.
func (st *evalState) result(qr topdown.QueryResult) error {
	v := qr[varValue]
	if v == nil {
		return nil
	}
	switch {
	case !st.q.pkg:
		st.value = v.Value
	case st.n < len(st.items):
		k := st.q.key
		if k == nil {
			k = qr[varKey]
		}
		st.items[st.n] = [2]*ast.Term{k, v}
		st.n++
	}
	return nil
}

// release returns the state to the pool, unless its deadline fired (or is
// firing): a deadline cannot be taken back.
func (st *evalState) release() {
	st.rules.reset()
	clear(st.meta)
	st.q, st.value, st.items, st.n = nil, nil, [3][2]*ast.Term{}, 0
	if st.timer.Stop() {
		evalStates.Put(st)
	}
}

// deadline cancels an evaluation: OPA's evaluator polls it.
type deadline struct{ flag atomic.Bool }

func (d *deadline) Cancel()         { d.flag.Store(true) }
func (d *deadline) Cancelled() bool { return d.flag.Load() }

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
type queryRef = *prepared
