package rego

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The prompt texts point into the request's body while the call lasts;
// the tables shared between calls must not: a table entry pointing into
// a body would change with it (and keep it alive).
func TestTablesDoNotAliasTheBody(t *testing.T) {
	s := benchStage(t, benchConfig)
	const role, text = "reviewer-alias-test", "a text only this test sends"
	// A text too long for the table of texts: its role is interned alone.
	const longRole = "long-writer-alias-test"
	long := strings.Repeat("long ", maxInternedText/5+1)
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"` + role + `","content":"` + text + `"},` +
		`{"role":"` + longRole + `","content":"` + long + `"}]}`)
	req := chatRequest(string(body))
	req.Body = body
	if _, err := s.Handle(context.Background(), req, answer); err != nil {
		t.Fatal(err)
	}
	copy(body, bytes.Repeat([]byte("x"), len(body))) // what a reuse of the buffer would do

	entry, ok := textTable.get(textPart{"messages.0.content", role, text})
	if !ok {
		t.Fatal("the text's entry is not in the table of texts (or its key changed with the body)")
	}
	obj := entry.Value.(ast.Object)
	if got := obj.Get(keyText).Value.(ast.String); got != text {
		t.Errorf("text entry's text = %q, want %q", got, text)
	}
	if got := obj.Get(keyRole).Value.(ast.String); got != role {
		t.Errorf("text entry's role = %q, want %q", got, role)
	}
	for _, r := range []string{role, longRole} {
		if got, ok := internTable.get(r); !ok || got.Value.(ast.String) != ast.String(r) {
			t.Errorf("interned role = %v (found %v), want %q", got, ok, r)
		}
	}
}
