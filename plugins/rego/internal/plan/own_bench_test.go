package plan

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// BenchmarkOwnObjectGet looks up keys in an object shaped like the
// guardrails' input and decisions (keys of a few lengths, several of one
// length): every key it has, and as many it has not, each of the length
// and first byte of one it has.
func BenchmarkOwnObjectGet(b *testing.B) {
	keys := []string{"allow", "deny", "model", "reason", "tokens", "max_tokens", "messages", "metadata", "customer", "provider", "stream", "tenant"}
	o := &ownObject{}
	var hits, misses []*ast.Term
	for _, k := range keys {
		o.put(ast.StringTerm(k), ast.BooleanTerm(true))
		hits = append(hits, ast.StringTerm(k)) // equal strings, not the stored terms
		misses = append(misses, ast.StringTerm(k[:len(k)-1]+"_"))
	}
	b.Run("hits", func(b *testing.B) {
		for b.Loop() {
			for _, k := range hits {
				if o.get(k) == nil {
					b.Fatal("a key was not found")
				}
			}
		}
	})
	b.Run("misses", func(b *testing.B) {
		for b.Loop() {
			for _, k := range misses {
				if o.get(k) != nil {
					b.Fatal("a key was found")
				}
			}
		}
	})
}
