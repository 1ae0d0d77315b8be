package plan

import (
	"context"
	"errors"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// targetName is the rego target through which OPA hands over a query's
// plan: OPA exposes the planner only to target plugins.
const targetName = "tollgate-plan"

var registerTarget sync.Once

// capture is the target plugin: it stores the plan it is given in the
// sink the context carries, and evaluates nothing.
type capture struct{}

type sinkKey struct{}

func (capture) IsTarget(t string) bool { return t == targetName }

func (capture) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	sink, ok := ctx.Value(sinkKey{}).(**ir.Policy)
	if !ok {
		return nil, errors.New("plan: no sink for the plan")
	}
	*sink = p
	return noEval{}, nil
}

type noEval struct{}

func (noEval) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("plan: a captured plan is not evaluated through rego")
}

// Plan returns OPA's plan (its intermediate representation) of a query
// over a compiled set of modules. opts add what the query needs besides
// (custom built-ins, a store).
func Plan(ctx context.Context, c *ast.Compiler, query string, opts ...func(*rego.Rego)) (*ir.Policy, error) {
	registerTarget.Do(func() { rego.RegisterPlugin(targetName, capture{}) })
	var p *ir.Policy
	ctx = context.WithValue(ctx, sinkKey{}, &p)
	opts = append(opts, rego.Compiler(c), rego.Query(query), rego.Target(targetName))
	if _, err := rego.New(opts...).PrepareForEval(ctx); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("plan: OPA did not plan the query")
	}
	return p, nil
}
