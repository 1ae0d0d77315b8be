package plan

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The objects a plan builds (a literal such as {field: cap}, the union of
// the guardrails' headers) and the arrays it grows (a comprehension's)
// cost ~5 and ~2 allocations each as OPA values, and OPA hashes a key to
// look it up. While an evaluation holds them they are the evaluator's
// own: pairs or elements in one slice, taken from the machine's slabs,
// looked up by a linear scan. They become OPA values (toOPA) wherever
// OPA's code would see them: a built-in's operands, an insertion into an
// OPA collection, a merge, the result. OPA's values never hold them; an
// own value may hold own values.

// ownObject is an object the evaluator built. Its keys are strings (an
// object with any other key is OPA's: OPA finds such keys by hash, with
// quirks of its own), distinct and sorted as OPA iterates an object's
// keys.
type ownObject struct {
	pairs [][2]*ast.Term
}

// ownArray is an array the evaluator grows, appended to in place (the
// term holding it is its one reference, as with an OPA array the plan
// appends to).
type ownArray struct {
	elems []*ast.Term
	buf   [4]*ast.Term
}

// isOwn reports whether v is an evaluator's own value.
func isOwn(v ast.Value) bool {
	switch v.(type) {
	case *ownObject, *ownArray:
		return true
	}
	return false
}

// toOPA returns t as OPA's value: t itself unless it holds an own value,
// converted then with every own value inside it.
func toOPA(t *ast.Term) *ast.Term {
	if t == nil {
		return nil
	}
	switch v := t.Value.(type) {
	case *ownObject, *ownArray:
		return ast.NewTerm(opaValue(v))
	}
	return t
}

func opaValue(v ast.Value) ast.Value {
	switch v := v.(type) {
	case *ownObject:
		var buf [8][2]*ast.Term
		items := buf[:0]
		for _, p := range v.pairs {
			items = append(items, [2]*ast.Term{p[0], toOPA(p[1])})
		}
		return ast.NewObject(items...) // copies the pairs
	case *ownArray:
		terms := make([]*ast.Term, len(v.elems))
		for i, e := range v.elems {
			terms[i] = toOPA(e)
		}
		return ast.NewArray(terms...)
	}
	return v
}

// get looks a key up; only a string can be one of its keys.
func (o *ownObject) get(key *ast.Term) *ast.Term {
	if ks, ok := key.Value.(ast.String); ok {
		for _, p := range o.pairs {
			// A plain comparison: a first-byte check before it measured
			// no faster (BenchmarkOwnObjectGet; docs/benchmarks.md,
			// Policies).
			if p[0].Value.(ast.String) == ks {
				return p[1]
			}
		}
	}
	return nil
}

// put adds a pair in key order (OPA's order of strings: by bytes); a key
// already there takes the new value, as an insertion into an object
// does. k must be a string term. It appends to o.pairs, which must have
// room or be the object's own.
func (o *ownObject) put(k, v *ast.Term) {
	ks := k.Value.(ast.String)
	i := len(o.pairs)
	for ; i > 0; i-- {
		prev := o.pairs[i-1][0].Value.(ast.String)
		if prev == ks {
			o.pairs[i-1][1] = v
			return
		}
		if prev < ks {
			break
		}
	}
	o.pairs = append(o.pairs, [2]*ast.Term{})
	copy(o.pairs[i+1:], o.pairs[i:])
	o.pairs[i] = [2]*ast.Term{k, v}
}

// stringKeys reports whether every key of a literal (pairs of operands)
// is a string.
func stringKeys(ops []operand, fr []*ast.Term) bool {
	for i := 0; i < len(ops); i += 2 {
		if _, ok := read(fr, ops[i]).Value.(ast.String); !ok {
			return false
		}
	}
	return true
}

// get looks an index up as OPA's array does.
func (a *ownArray) get(key *ast.Term) *ast.Term {
	n, ok := key.Value.(ast.Number)
	if !ok {
		return nil
	}
	if i, ok := n.Int(); ok && i >= 0 && i < len(a.elems) {
		return a.elems[i]
	}
	return nil
}

// The ast.Value methods answer as the OPA value would: only for safety,
// as the evaluator converts an own value before OPA's code sees it.

func (o *ownObject) Compare(other ast.Value) int { return opaValue(o).Compare(opaValue(other)) }

// Find looks a path up in place, as OPA's object does (the decision cache
// reads the input's fields with it).
func (o *ownObject) Find(path ast.Ref) (ast.Value, error) {
	if len(path) == 0 {
		return o, nil
	}
	v := o.get(path[0])
	if v == nil {
		return nil, errNotFound
	}
	return v.Value.Find(path[1:])
}

var errNotFound = errors.New("find: not found")

func (o *ownObject) Hash() int         { return opaValue(o).Hash() }
func (o *ownObject) IsGround() bool    { return opaValue(o).IsGround() }
func (o *ownObject) String() string    { return opaValue(o).String() }
func (o *ownObject) StringLength() int { return opaValue(o).StringLength() }

func (a *ownArray) Compare(other ast.Value) int { return opaValue(a).Compare(opaValue(other)) }
func (a *ownArray) Find(path ast.Ref) (ast.Value, error) {
	return opaValue(a).Find(path)
}
func (a *ownArray) Hash() int         { return opaValue(a).Hash() }
func (a *ownArray) IsGround() bool    { return opaValue(a).IsGround() }
func (a *ownArray) String() string    { return opaValue(a).String() }
func (a *ownArray) StringLength() int { return opaValue(a).StringLength() }

var (
	_ ast.Value = (*ownObject)(nil)
	_ ast.Value = (*ownArray)(nil)
)

// NewObject returns an object of the pairs for the evaluator to read in
// place (the stage builds the input document with it): its own object
// when every key is a string, OPA's otherwise. A key given twice keeps
// its last value. Anything but a plan reads it through ToOPA (topdown, a
// decision log) or Find.
func NewObject(items [][2]*ast.Term) ast.Value {
	if !allStringKeys(items) {
		return ast.NewObject(items...)
	}
	var o *ownObject
	switch {
	case len(items) <= len(smallObject{}.buf):
		b := new(smallObject) // one allocation for the object and its pairs
		b.o.pairs = b.buf[:0]
		o = &b.o
	case len(items) <= len(inputObject{}.buf):
		b := new(inputObject)
		b.o.pairs = b.buf[:0]
		o = &b.o
	default:
		o = &ownObject{pairs: make([][2]*ast.Term, 0, len(items))}
	}
	for _, it := range items {
		o.put(it[0], it[1])
	}
	return o
}

// NewObjectTerm is a term of NewObject(items), in one allocation with the
// object and its pairs when they are few, where a term of NewObject is two.
func NewObjectTerm(items [][2]*ast.Term) *ast.Term {
	if !allStringKeys(items) || len(items) > len(inputObject{}.buf) {
		return ast.NewTerm(NewObject(items))
	}
	b := new(objectTerm)
	b.o.pairs = b.buf[:0]
	for _, it := range items {
		b.o.put(it[0], it[1])
	}
	b.t.Value = &b.o
	return &b.t
}

func allStringKeys(items [][2]*ast.Term) bool {
	for _, it := range items {
		if _, ok := it[0].Value.(ast.String); !ok {
			return false
		}
	}
	return true
}

// NewArrayTerm returns a term of an array of the terms for the evaluator
// to read in place (the stage's input.request.texts): its own array, in
// one allocation with the term for up to four elements, where a term of
// OPA's array is three. The terms are copied. Anything but a plan reads
// it through ToOPA or Find.
func NewArrayTerm(terms []*ast.Term) *ast.Term {
	b := new(arrayTerm)
	b.a.elems = append(b.a.buf[:0], terms...)
	b.t.Value = &b.a
	return &b.t
}

// The input's objects and arrays with their terms and room for their
// pairs or elements, each made in one allocation.
type (
	smallObject struct {
		o   ownObject
		buf [6][2]*ast.Term
	}
	objectTerm struct {
		t ast.Term
		inputObject
	}
	arrayTerm struct {
		t ast.Term
		a ownArray
	}
)

// inputObject is an object of the input with room for its pairs.
type inputObject struct {
	o   ownObject
	buf [10][2]*ast.Term
}
