package rego

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/types"
)

// decisionTypes are the values the stage reads in each decision key
// (readDecision), with what to say about another.
var decisionTypes = []struct {
	key  *ast.Term
	ok   func(types.Type) bool
	want string
}{
	{keyDeny, func(t types.Type) bool {
		switch t.(type) {
		case *types.Set, *types.Array, types.Boolean, types.String:
			return true
		}
		return false
	}, "a set of messages (deny contains msg if …)"},
	{keyPatch, isObjectType, "an object of field paths to values"},
	{keyHeadersOut, isObjectType, "an object of header names to strings"},
}

func isObjectType(t types.Type) bool {
	_, ok := t.(*types.Object)
	return ok
}

// checkDecisionTypes refuses, at load, a package whose deny, patch or
// headers rules can only make a value the stage cannot read (deny := 5):
// OPA's type checker knows, so the mistake need not wait for a call.
func checkDecisionTypes(c *ast.Compiler, pkg ast.Ref, node *ast.TreeNode) error {
	for _, d := range decisionTypes {
		child := node.Child(d.key.Value)
		if child == nil || len(child.Values) == 0 {
			continue // none, or defined in data
		}
		t := c.TypeEnv.GetByRef(pkg.Append(d.key))
		if t == nil || mayBe(t, d.ok) {
			continue
		}
		where := ""
		if loc := child.Values[0].Location; loc != nil {
			where = loc.String() + ": "
		}
		return fmt.Errorf("%s%s is %s, want %s", where, pkg.Append(d.key), types.Sprint(t), d.want)
	}
	return nil
}

// mayBe reports whether a value of type t may pass ok: any type may.
func mayBe(t types.Type, ok func(types.Type) bool) bool {
	if a, isAny := t.(types.Any); isAny {
		if len(a) == 0 {
			return true
		}
		for _, m := range a {
			if mayBe(m, ok) {
				return true
			}
		}
		return false
	}
	return ok(t)
}
