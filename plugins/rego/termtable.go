package rego

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// termTable is a bounded table of immutable terms shared by every call
// (interned strings, metadata objects, text entries, objects of kept
// body fields): lookups take a read lock, and when full the table starts
// over empty, so it never holds more than maxInterned entries.
type termTable[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*ast.Term
}

func (t *termTable[K]) get(k K) (*ast.Term, bool) {
	t.mu.RLock()
	v, ok := t.m[k]
	t.mu.RUnlock()
	return v, ok
}

func (t *termTable[K]) put(k K, v *ast.Term) {
	t.mu.Lock()
	if t.m == nil || len(t.m) >= maxInterned {
		t.m = make(map[K]*ast.Term, 64)
	}
	t.m[k] = v
	t.mu.Unlock()
}

// getBytes looks a string-keyed table up by bytes without converting them
// to a string first (the compiler reads m[string(b)] in place).
func getBytes(t *termTable[string], k []byte) (*ast.Term, bool) {
	t.mu.RLock()
	v, ok := t.m[string(k)]
	t.mu.RUnlock()
	return v, ok
}
