package rego

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

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
	// direct marks the keys bound to their value, not to an array of it
	// (see alwaysDefined).
	direct []bool
}

// planQuery plans a prepared query. A package query becomes one query
// collecting each decision key into an array of at most one value, so
// that an undefined key does not make the others undefined and the rules
// the keys share are evaluated once; a key that is never undefined (a set
// of messages, a rule with a default) is bound to its value, which saves
// the array:
//
//	__tollgate_deny__ = data.pkg.deny; __tollgate_patch__ = [x | x = data.pkg.patch]
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
			direct := alwaysDefined(c, ref.Append(k))
			pq.direct = append(pq.direct, direct)
			if direct {
				exprs = append(exprs, fmt.Sprintf("%s = %s", name, ref.Append(k)))
			} else {
				exprs = append(exprs, fmt.Sprintf("%s = [__tollgate_x__ | __tollgate_x__ = %s]", name, ref.Append(k)))
			}
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

// alwaysDefined reports whether a rule is never undefined: it has a
// default, or it is a set or object built from rules (`contains`), which
// is empty, not undefined, when no rule adds to it. No rule with a longer
// or shorter path may add to it.
func alwaysDefined(c *ast.Compiler, ref ast.Ref) bool {
	rules := c.GetRulesExact(ref)
	if len(rules) == 0 || len(c.GetRules(ref)) != len(rules) {
		return false
	}
	multi := true
	for _, r := range rules {
		if r.Default {
			return true
		}
		multi = multi && r.Head.RuleKind() == ast.MultiValue
	}
	return multi
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
		return result{}, evalError(err, timeout)
	}
	res := result{pkg: q.pkg}
	if n == 0 {
		if slices.Contains(q.plan.direct, true) {
			return result{}, errFallback // a key said to be always defined was not
		}
		return res, nil
	}
	if n > 1 {
		return result{}, errFallback
	}
	if !q.pkg {
		if v := out.Get(q.plan.vars[0]); v != nil {
			res.value = v.Value
		}
		return res, nil
	}
	for i, k := range q.plan.keys {
		if q.plan.direct[i] {
			t := out.Value(q.plan.vars[i]) // converted where read (readDecision, document)
			if t == nil {
				return result{}, errFallback
			}
			res.items[res.n] = [2]*ast.Term{k, t}
			res.n++
			continue
		}
		var arr *ast.Array
		if t := out.Get(q.plan.vars[i]); t != nil {
			arr, _ = t.Value.(*ast.Array)
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
