package rego

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// dataCache is the evaluator's cache of base documents (data) for one
// compiled generation: the whole data document, read from the store once
// when the policies are prepared, with a Go map beside each object for
// lookups that allocate nothing. A policy generation's data never changes
// (a reload builds a new store), so every evaluation shares it and no
// evaluation reads the store or fills a cache of its own: OPA's default
// cache is a trie built afresh per evaluation, with a store read and a
// path allocation per data reference.
//
// It is safe for concurrent use: it is never written to.
type dataCache struct{ root *dataNode }

// dataNode is one value of the data document; an object's members are
// also indexed by key.
type dataNode struct {
	value ast.Value
	kids  map[string]*dataNode
}

// newDataCache indexes a data document.
func newDataCache(root ast.Value) dataCache {
	if root == nil {
		return dataCache{}
	}
	return dataCache{index(root)}
}

func index(v ast.Value) *dataNode {
	n := &dataNode{value: v}
	if obj, ok := v.(ast.Object); ok {
		n.kids = make(map[string]*dataNode, obj.Len())
		obj.Foreach(func(k, v *ast.Term) {
			if s, ok := k.Value.(ast.String); ok {
				n.kids[string(s)] = index(v.Value)
			}
		})
	}
	return n
}

// Get returns the value at ref (data.a.b…), or nil for a miss, which sends
// the evaluator to the store (see dataStore).
func (c dataCache) Get(ref ast.Ref) ast.Value {
	if c.root == nil || len(ref) < 2 {
		return nil // data as a whole goes to the store, which hides data.system
	}
	n := c.root
	for i, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok || n.kids == nil {
			v, err := n.value.Find(ref[1+i:])
			if err != nil {
				return nil
			}
			return v
		}
		if n = n.kids[string(s)]; n == nil {
			return nil
		}
	}
	return n.value
}

// Put does nothing: everything the store holds is already here.
func (dataCache) Put(ast.Ref, ast.Value) {}

// dataStore is a generation's store as the evaluator reads it. Reads the
// data cache missed are for documents the data does not hold (the
// evaluator looks for base documents beside the rules it evaluates, and
// for optional config such as data.tollgate.config.models.replace): the
// index answers them without the in-memory store's per-read allocations.
// Everything else goes to the store itself.
type dataStore struct {
	storage.Store
	data dataCache
}

// errNotFound is every miss of a dataStore read: callers test its code.
var errNotFound = &storage.Error{Code: storage.NotFoundErr, Message: "document not found"}

// Read reads the document at path.
func (s dataStore) Read(ctx context.Context, txn storage.Transaction, path storage.Path) (any, error) {
	n := s.data.root
	if n == nil || len(path) == 0 {
		return s.Store.Read(ctx, txn, path)
	}
	for _, k := range path {
		if n.kids == nil {
			return s.Store.Read(ctx, txn, path) // into an array or a scalar
		}
		if n = n.kids[k]; n == nil {
			return nil, errNotFound
		}
	}
	return n.value, nil
}

// readData reads the whole data document of a store as an OPA value.
func readData(store storage.Store, txn storage.Transaction) ast.Value {
	v, err := store.Read(context.Background(), txn, storage.RootPath)
	if err != nil {
		return nil
	}
	if obj, ok := v.(ast.Value); ok {
		return obj
	}
	obj, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil
	}
	return obj
}

// ruleCache is the evaluator's cache of rule and function results for one
// evaluation, in place of OPA's default (a trie of hash maps, several
// allocations per cached rule). It is a flat list searched from the newest
// entry, each key copied into one reused slice of terms; an evaluation
// caches a few dozen results, and a cheap fingerprint of each key settles
// almost every comparison. Caches are pooled with the rest of an
// evaluation's state: after its first uses an evaluation's cache allocates
// nothing.
//
// It is not safe for concurrent use; each evaluation has its own.
type ruleCache struct {
	terms   []*ast.Term // the keys' terms, back to back
	entries []ruleEntry
	frames  []int // the index of the first entry of each pushed frame
}

type ruleEntry struct {
	fp        uint64
	off, n    int // the key is terms[off : off+n]
	value     *ast.Term
	undefined bool
}

func getRuleCache() *ruleCache { return &ruleCache{frames: make([]int, 1, 4)} }

// reset empties the cache for another evaluation. A cache that grew
// unusually large lets its memory go.
func (c *ruleCache) reset() {
	if len(c.entries) > 1024 || len(c.terms) > 8192 {
		*c = *getRuleCache()
		return
	}
	clear(c.terms)
	clear(c.entries)
	c.terms, c.entries, c.frames = c.terms[:0], c.entries[:0], c.frames[:1]
}

// Push opens a frame (a with statement): entries of outer frames are not
// seen until it is popped.
func (c *ruleCache) Push() { c.frames = append(c.frames, len(c.entries)) }

// Pop drops the newest frame and its entries.
func (c *ruleCache) Pop() {
	if len(c.frames) <= 1 {
		return
	}
	start := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	if start < len(c.entries) {
		off := c.entries[start].off
		clear(c.terms[off:])
		c.terms = c.terms[:off]
		clear(c.entries[start:])
		c.entries = c.entries[:start]
	}
}

// Get returns the cached result of ref: (value, false) when cached, (nil,
// true) when cached as undefined, (nil, false) when not cached.
func (c *ruleCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if i := c.find(ref, fingerprint(ref)); i >= 0 {
		e := &c.entries[i]
		if e.undefined {
			return nil, true
		}
		return e.value, false
	}
	return nil, false
}

// Put caches the result of ref; nil records it as undefined.
func (c *ruleCache) Put(ref ast.Ref, value *ast.Term) {
	fp := fingerprint(ref)
	if i := c.find(ref, fp); i >= 0 {
		if value != nil {
			c.entries[i].value = value
		} else {
			c.entries[i].undefined = true
		}
		return
	}
	off := len(c.terms)
	c.terms = append(c.terms, ref...) // the evaluator reuses the slice it passes
	c.entries = append(c.entries, ruleEntry{fp: fp, off: off, n: len(ref), value: value, undefined: value == nil})
}

// Keys returns the keys cached in the newest frame.
func (c *ruleCache) Keys() []ast.Ref {
	var keys []ast.Ref
	for _, e := range c.entries[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			keys = append(keys, append(ast.Ref(nil), c.terms[e.off:e.off+e.n]...))
		}
	}
	return keys
}

// find returns the index of ref's entry in the newest frame, or -1.
func (c *ruleCache) find(ref ast.Ref, fp uint64) int {
	start := c.frames[len(c.frames)-1]
next:
	for i := len(c.entries) - 1; i >= start; i-- {
		e := &c.entries[i]
		if e.fp != fp || e.n != len(ref) {
			continue
		}
		key := c.terms[e.off : e.off+e.n]
		for j := len(ref) - 1; j >= 0; j-- {
			if !key[j].Equal(ref[j]) {
				continue next
			}
		}
		return i
	}
	return -1
}

// fingerprint summarises a key cheaply: its length, and for each term its
// kind and, for strings and variables, length and end bytes. Equal keys
// have equal fingerprints; most unequal ones differ.
func fingerprint(ref ast.Ref) uint64 {
	h := uint64(len(ref))
	for _, t := range ref {
		var x uint64
		switch v := t.Value.(type) {
		case ast.String:
			x = 1 + uint64(len(v))<<8
			if len(v) > 0 {
				x ^= uint64(v[0])<<24 ^ uint64(v[len(v)-1])<<32
			}
		case ast.Var:
			x = 2 + uint64(len(v))<<8
			if len(v) > 0 {
				x ^= uint64(v[0])<<24 ^ uint64(v[len(v)-1])<<32
			}
		case ast.Number:
			x = 3 + uint64(len(v))<<8
		case ast.Boolean:
			x = 4
			if v {
				x = 5
			}
		default:
			x = 6
		}
		h = h*1099511628211 ^ x
	}
	return h
}

var (
	_ topdown.BaseCache    = dataCache{}
	_ topdown.VirtualCache = (*ruleCache)(nil)
)
