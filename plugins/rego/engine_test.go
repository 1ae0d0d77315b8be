package rego

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestAlwaysDefined checks which decision keys the plan binds to their
// value rather than to an array of at most one.
func TestAlwaysDefined(t *testing.T) {
	const src = `package p

deny contains "x" if input.x

patch := {"a": 1} if input.y

default headers := {}

headers := {"h": "v"} if input.z

nothing contains "x" if false

obj[k] := 1 if some k in input.keys

nested.deny contains "x" if input.x
`
	mod := ast.MustParseModule(src)
	c, err := compile(map[string]*ast.Module{"p.rego": mod}, capabilities(false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "set of messages", ref: "data.p.deny", want: true},
		{name: "set that no rule adds to", ref: "data.p.nothing", want: true},
		{name: "complete rule", ref: "data.p.patch", want: false},
		{name: "complete rule with a default", ref: "data.p.headers", want: true},
		{name: "partial object", ref: "data.p.obj", want: false},
		{name: "set under a longer path", ref: "data.p.nested", want: false},
		{name: "undefined rule", ref: "data.p.missing", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alwaysDefined(c, ast.MustParseRef(tt.ref)); got != tt.want {
				t.Errorf("alwaysDefined(%s) = %v, want %v", tt.ref, got, tt.want)
			}
		})
	}
}
