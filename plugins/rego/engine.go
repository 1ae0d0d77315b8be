package rego

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/tollgate-dev/tollgate/plugins/rego/internal/plan"
)

// A prepared query is evaluated from OPA's plan of it (internal/plan)
// when the plan uses only what that evaluator runs, and by OPA's
// evaluator (topdown) otherwise. Both give the same decision; the plan is
// several times faster, as it does no unification and keeps no bindings.

// planned is a query's plan, compiled, and how to read its result.
type planned struct {
	prog *plan.Program
	// vars are the result's variables: one per decision key of a package
	// query (keys[i] read from vars[i]), or the value of a rule query.
	vars []*ast.Term
	keys []*ast.Term
}

// planQuery plans a prepared query. A package query becomes one query
// collecting each decision key into an array of at most one value, so
// that an undefined key does not make the others undefined and the rules
// the keys share are evaluated once:
//
//	__tollgate_deny__ = [x | x = data.pkg.deny]; __tollgate_patch__ = [...]
//
// It returns why when the query is left to topdown.
func planQuery(ctx context.Context, c *ast.Compiler, query string, q *prepared, keys []*ast.Term) (*planned, string) {
	ref := ast.MustParseRef(query)
	pq := &planned{}
	var exprs []string
	if !q.pkg {
		pq.vars = []*ast.Term{ast.StringTerm("__tollgate_value__")}
		exprs = append(exprs, fmt.Sprintf("__tollgate_value__ = %s", ref))
	} else {
		for _, k := range keys {
			name := "__tollgate_" + string(k.Value.(ast.String)) + "__"
			pq.vars = append(pq.vars, ast.StringTerm(name))
			pq.keys = append(pq.keys, k)
			exprs = append(exprs, fmt.Sprintf("%s = [__tollgate_x__ | __tollgate_x__ = %s]", name, ref.Append(k)))
		}
	}
	ir, err := plan.Plan(ctx, c, strings.Join(exprs, "; "), builtinOptions()...)
	if err != nil {
		return nil, "OPA could not plan it: " + err.Error()
	}
	if pq.prog, err = plan.Compile(ir, tollgateBuiltins); err != nil {
		return nil, strings.TrimPrefix(err.Error(), plan.ErrUnsupported.Error()+": ")
	}
	return pq, ""
}

// errFallback is returned by evalPlan for a result the plan's reading
// does not expect; the caller then evaluates with topdown.
var errFallback = errors.New("rego: plan result not understood")

// evalPlan evaluates a query from its plan, with the same deadline as
// topdown's evaluation.
func (p *policy) evalPlan(ctx context.Context, q *prepared, input ast.Value, timeout time.Duration) (result, error) {
	st := getEvalState()
	st.timer.Reset(timeout)
	out, n, err := q.plan.prog.Eval(ctx, plan.Env{Input: ast.NewTerm(input), Data: p.dataTerm, Cancel: &st.deadline, Capabilities: p.caps})
	st.release()
	if err != nil {
		var te *topdown.Error
		if errors.As(err, &te) && te.Code == topdown.CancelErr {
			return result{}, fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		return result{}, err
	}
	res := result{pkg: q.pkg}
	if n == 0 {
		return res, nil
	}
	obj, ok := out.Value.(ast.Object)
	if n > 1 || !ok {
		return result{}, errFallback
	}
	if !q.pkg {
		if v := obj.Get(q.plan.vars[0]); v != nil {
			res.value = v.Value
		}
		return res, nil
	}
	for i, k := range q.plan.keys {
		var arr *ast.Array
		if t := obj.Get(q.plan.vars[i]); t != nil {
			arr, ok = t.Value.(*ast.Array)
		}
		switch {
		case arr == nil || arr.Len() > 1:
			return result{}, errFallback
		case arr.Len() == 1:
			res.items[res.n] = [2]*ast.Term{k, arr.Elem(0)}
			res.n++
		}
	}
	return res, nil
}
