package rego

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestSetHeadersMatchesSet checks that the decision's headers are keyed as
// http.Header.Set keys them, for names in any case and names Set leaves
// alone, on a first call and from the table of names.
func TestSetHeadersMatchesSet(t *testing.T) {
	names := []string{"x-tollgate-max-tokens", "X-Tollgate-Budget", "x-TOLLGATE-mixed", "content-type", "x_under_score", "has space", "ünicode", "a", ""}
	for round := range 2 {
		obj := ast.NewObject()
		want := http.Header{}
		for i, n := range names {
			obj.Insert(ast.StringTerm(n), ast.IntNumberTerm(i))
			want.Set(n, ast.IntNumberTerm(i).String())
		}
		got := http.Header{}
		setHeaders(got, obj)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round %d: setHeaders gave %v, http.Header.Set %v", round, got, want)
		}
	}
}
