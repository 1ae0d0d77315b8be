package plan

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// specialise returns a built-in of OPA's with the fast paths this package
// has for it (arith.go, union.go): each answers exactly as OPA's, for the
// cases it takes, and hands the rest to OPA's.
func specialise(name string, f topdown.BuiltinFunc) topdown.BuiltinFunc {
	switch name {
	case "plus", "minus":
		return fastArith(name, f)
	case "object.union_n":
		return fastUnionN(f)
	}
	return f
}

// ownNative returns the form of a built-in that reads the evaluator's own
// values (own.go) before they are converted for OPA's, if it has one.
func ownNative(name string) func(m *machine, args []*ast.Term) *ast.Term {
	switch name {
	case "object.union_n":
		return (*machine).unionOwn
	case "format_int":
		return (*machine).formatInt
	}
	return nil
}
