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
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
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
	txn      storage.Transaction
	data     dataCache
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
	if n.anyBody() && cfg.logsBody() {
		// The policies read some fields of the body; the decision log
		// shows it whole, as the client sent it.
		n.body, n.bodyKeys = true, nil
	}
	p := &policy{needs: n, compiler: c, store: store, files: src.files, stamp: stamp(src.files), revision: revision(src), loadedAt: time.Now()}
	var errs []error
	if cfg.Query != "" {
		p.req, err = prepare(c, cfg.Query)
		errs = append(errs, err)
	}
	if cfg.ResponseQuery != "" {
		p.resp, err = prepare(c, cfg.ResponseQuery)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.txn, err = store.NewTransaction(ctx); err != nil {
		return nil, err
	}
	p.data = dataCache{readData(store, p.txn)}
	return p, nil
}

// prepare compiles a query (a reference under data). A query that names a
// package is compiled to evaluate only the package's deny, patch and
// headers, one at a time, rather than every rule in the package into one
// object: helper rules (a guardrail's config lookups, its tables) are
// evaluated only as far as those three need them, and no object is built
// for the package.
func prepare(c *ast.Compiler, query string) (*prepared, error) {
	if err := checkQuery(c, query); err != nil {
		return nil, err
	}
	ref := ast.MustParseRef(query)
	q := &prepared{pkg: isPackage(c, ref)}
	value := ast.NewTerm(ref)
	if q.pkg {
		// key = ["deny", "patch", "headers"][_]; value = <query>[key]
		keys := ast.ArrayTerm(keyDeny, keyPatch, keyHeadersOut)
		q.body = ast.NewBody(
			ast.Equality.Expr(ast.NewTerm(varKey), ast.RefTerm(keys, ast.VarTerm("__tollgate_i__"))),
			ast.Equality.Expr(ast.NewTerm(varValue), ast.NewTerm(ref.Append(ast.NewTerm(varKey)))),
		)
	} else {
		q.body = ast.NewBody(ast.Equality.Expr(ast.NewTerm(varValue), value))
	}
	body, err := c.QueryCompiler().Compile(q.body)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	q.body = body
	return q, nil
}

// isPackage reports whether ref names a package (or a part of the data
// tree above rules) rather than a rule or a value inside one.
func isPackage(c *ast.Compiler, ref ast.Ref) bool {
	node := c.RuleTree
	for _, t := range ref {
		if node = node.Child(t.Value); node == nil {
			return false
		}
		if len(node.Values) > 0 {
			return false
		}
	}
	return true
}

// noMetrics spares each evaluation a metrics allocation.
var noMetrics = metrics.NoOp()

// errTimeout is the cause of an evaluation that ran past its deadline.
var errTimeout = errors.New("policy evaluation timed out")

// eval evaluates a prepared query on an input and returns the decision
// document (nil when the query is undefined). It cancels the evaluation at
// the deadline without a goroutine of its own.
func (p *policy) eval(ctx context.Context, q *prepared, input ast.Value, timeout time.Duration) (ast.Value, error) {
	return p.evalTraced(ctx, q, input, timeout, nil)
}

// evalTraced is eval with an optional tracer (OPA's profiler, in tests).
//
// The evaluation goes to OPA's evaluator (topdown) directly, as
// rego.PreparedEvalQuery.Eval does, minus what a stage never uses
// (metrics, instrumentation, a result set with Go values): with the shared
// transaction, the generation's data cache and a pooled rule cache, an
// evaluation allocates only for the rules it evaluates.
func (p *policy) evalTraced(ctx context.Context, q *prepared, input ast.Value, timeout time.Duration, tracer topdown.QueryTracer) (ast.Value, error) {
	c := topdown.NewCancel()
	t := time.AfterFunc(timeout, c.Cancel)
	rc := getRuleCache()
	tq := topdown.NewQuery(q.body).
		WithCompiler(p.compiler).
		WithStore(p.store).
		WithTransaction(p.txn).
		WithBuiltins(tollgateBuiltins).
		WithMetrics(noMetrics).
		WithIndexing(true).
		WithEarlyExit(true).
		WithVirtualCache(rc).
		WithBaseCache(p.data).
		WithInput(ast.NewTerm(input)).
		WithCancel(c)
	if tracer != nil {
		tq = tq.WithQueryTracer(tracer)
	}
	var (
		value ast.Value
		items [3][2]*ast.Term
		n     int
	)
	err := tq.Iter(ctx, func(qr topdown.QueryResult) error {
		v := qr[varValue]
		if v == nil {
			return nil
		}
		if !q.pkg {
			value = v.Value
			return nil
		}
		if n < len(items) {
			items[n] = [2]*ast.Term{qr[varKey], v}
			n++
		}
		return nil
	})
	rc.release()
	t.Stop()
	if err != nil {
		var te *topdown.Error
		if errors.As(err, &te) && te.Code == topdown.CancelErr {
			return nil, fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		return nil, err
	}
	if q.pkg && n > 0 {
		value = ast.NewObject(items[:n]...)
	}
	return value, nil
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
type queryRef = *prepared
