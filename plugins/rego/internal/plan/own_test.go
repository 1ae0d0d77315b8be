package plan

import (
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// own converts an OPA term to the evaluator's own values, objects and
// arrays at every level; with r, some are left as OPA's (the evaluator
// mixes both).
func own(m *machine, t *ast.Term, r *rand.Rand) *ast.Term {
	if r != nil && r.IntN(4) == 0 {
		return t
	}
	switch v := t.Value.(type) {
	case ast.Object:
		for _, k := range v.Keys() {
			if !isA[ast.String](k) {
				return t // an own object has string keys only
			}
		}
		o := m.newObject(v.Len())
		v.Foreach(func(k, x *ast.Term) { o.put(k, own(m, x, r)) })
		return ast.NewTerm(o)
	case *ast.Array:
		a := m.newArray()
		v.Foreach(func(x *ast.Term) { a.elems = append(a.elems, own(m, x, r)) })
		return ast.NewTerm(a)
	}
	return t
}

// TestOwnObjectMatchesOPA puts random string keys, repeated ones among
// them, into an own object and into OPA's, and compares the lookups
// (other keys too), the order of the keys, the length, equality and the
// conversion.
func TestOwnObjectMatchesOPA(t *testing.T) {
	keys := []string{`"a"`, `"b"`, `"c"`, `"ab"`, `"B"`, `""`, `"é"`, `"a\u0000"`}
	r := rand.New(rand.NewPCG(3, 4))
	m := &machine{}
	for range 3000 {
		want := ast.NewObject()
		got := m.newObject(2)
		for range r.IntN(8) {
			k, v := ast.MustParseTerm(keys[r.IntN(len(keys))]), ast.IntNumberTerm(r.IntN(3))
			want.Insert(k, v)
			got.put(k, v)
		}
		gt := ast.NewTerm(got)
		if conv := toOPA(gt); conv.Value.Compare(want) != 0 {
			t.Fatalf("converted %v, want %v", conv, want)
		}
		if n, _ := length(gt); n != want.Len() {
			t.Fatalf("length %d, want %d (%v)", n, want.Len(), want)
		}
		i := 0
		want.Foreach(func(k, _ *ast.Term) {
			if i >= len(got.pairs) || got.pairs[i][0].Value.Compare(k.Value) != 0 {
				t.Fatalf("key %d of %v is not %v: the order is not OPA's", i, want, k)
			}
			i++
		})
		for _, ks := range append(keys, `1`, `null`, `["a"]`) {
			k := ast.MustParseTerm(ks)
			if w, g := want.Get(k), dot(gt, k); (w == nil) != (g == nil) || w != nil && w.Value.Compare(g.Value) != 0 {
				t.Fatalf("%v[%v] = %v, OPA says %v", want, k, g, w)
			}
		}
		if !equal(gt, ast.NewTerm(want)) || !equal(ast.NewTerm(want), gt) {
			t.Fatalf("%v is not equal to its own form", want)
		}
		if equal(gt, ast.ArrayTerm()) || equal(gt, ast.StringTerm("a")) || equal(gt, ast.SetTerm()) {
			t.Fatalf("%v equals a value of another kind", want)
		}
	}
}

// TestOwnArrayMatchesOPA compares an own array's lookups by index, its
// length, equality and conversion with OPA's.
func TestOwnArrayMatchesOPA(t *testing.T) {
	m := &machine{}
	for _, src := range []string{`[]`, `[1]`, `["a", {"b": [2, 3]}, null, 4, 5, 6]`} {
		want := ast.MustParseTerm(src)
		got := own(m, want, nil)
		if conv := toOPA(got); conv.Value.Compare(want.Value) != 0 {
			t.Errorf("converted %v, want %v", conv, want)
		}
		if n, _ := length(got); n != want.Value.(*ast.Array).Len() {
			t.Errorf("length of %v: %d", want, n)
		}
		for _, ks := range []string{`0`, `1`, `1.0`, `-1`, `5`, `6`, `"0"`, `true`} {
			k := ast.MustParseTerm(ks)
			if w, g := dot(want, k), dot(got, k); (w == nil) != (g == nil) || w != nil && !equal(w, g) {
				t.Errorf("%v[%v] = %v, OPA says %v", want, k, g, w)
			}
		}
		if !equal(got, want) || equal(got, ast.NewTerm(ast.NewObject())) {
			t.Errorf("%v: equality differs from OPA's", want)
		}
	}
}

// TestUnionOwnMatchesOPA gives object.union_n's own form the cases of
// TestUnionNMatchesOPA as arrays the evaluation grew, mixing own and OPA
// objects, and compares it with OPA's wherever it answers.
func TestUnionOwnMatchesOPA(t *testing.T) {
	opa := topdown.GetBuiltin("object.union_n")
	m := &machine{}
	r := rand.New(rand.NewPCG(5, 6))
	values := []string{`1`, `"v"`, `{}`, `{"x": 1}`, `{"y": {"z": 2}}`, `[1]`, `null`}
	fast := 0
	for i := range 6000 {
		var arg *ast.Term
		if i < 100 {
			arg = ast.MustParseTerm([]string{`[]`, `[{}]`, `[{"a": 1}]`, `[{}, {"a": 1}]`, `[{"a": 1}, {"a": 2}]`,
				`[{"a": {"b": 2}}, {"a": {"c": 3}}]`, `[{1: "x"}, {1.0: "y"}]`, `[{"a": 1}, 2]`, `[2]`,
				`[{"x-a": "1"}, {"x-b": "2"}, {"x-a": "3"}]`}[i%10])
		} else {
			objs := make([]*ast.Term, r.IntN(5))
			for j := range objs {
				obj := ast.NewObject()
				for range r.IntN(4) {
					obj.Insert(ast.StringTerm(string(rune('a'+r.IntN(4)))), ast.MustParseTerm(values[r.IntN(len(values))]))
				}
				objs[j] = ast.NewTerm(obj)
			}
			arg = ast.ArrayTerm(objs...)
		}
		var want *ast.Term
		werr := opa(topdown.BuiltinContext{}, []*ast.Term{arg}, func(t *ast.Term) error { want = t; return nil })
		arr := m.newArray() // the array is the evaluation's, its objects own or OPA's
		arg.Value.(*ast.Array).Foreach(func(e *ast.Term) { arr.elems = append(arr.elems, own(m, e, r)) })
		got := m.unionOwn([]*ast.Term{ast.NewTerm(arr)})
		if got == nil {
			continue
		}
		fast++
		if werr != nil || want.Value.Compare(toOPA(got).Value) != 0 {
			t.Fatalf("object.union_n(%v) = %v, OPA says %v (%v)", arg, toOPA(got), want, werr)
		}
	}
	if fast < 2000 {
		t.Errorf("the own form answered %d of 6000 cases: the test no longer exercises it", fast)
	}
}

// TestNewObjectMatchesOPA builds input-like objects with NewObject (its
// own object for string keys, of up to and beyond the pairs it keeps
// inline; OPA's for other keys) and compares them, their lookups and
// Find of paths into them, found or not, with OPA's.
func TestNewObjectMatchesOPA(t *testing.T) {
	inner := ast.MustParseTerm(`{"model": "m", "body": {"max_tokens": 5, "list": [1, {"x": "y"}]}}`)
	cases := [][][2]*ast.Term{
		{},
		{ast.Item(ast.StringTerm("request"), inner), ast.Item(ast.StringTerm("customer"), ast.StringTerm("acme")),
			ast.Item(ast.StringTerm("phase"), ast.StringTerm("request"))},
		{ast.Item(ast.StringTerm("a"), ast.IntNumberTerm(1)), ast.Item(ast.StringTerm("a"), ast.IntNumberTerm(2))},
		{ast.Item(ast.IntNumberTerm(1), ast.StringTerm("one")), ast.Item(ast.StringTerm("a"), ast.IntNumberTerm(2))},
	}
	var many [][2]*ast.Term
	for i := range 13 {
		many = append(many, ast.Item(ast.StringTerm(string(rune('z'-i))), ast.IntNumberTerm(i)))
	}
	cases = append(cases, many, many[:6], many[:7], many[:10], many[:11]) // past each size of room
	paths := []string{`request`, `request.model`, `request.body.max_tokens`, `request.body.list[1].x`,
		`request.body.absent`, `request.model.deeper`, `customer`, `absent`, `a`, `z`, `n`}
	for _, items := range cases {
		want := ast.NewObject()
		for _, it := range items {
			want.Insert(it[0], it[1])
		}
		for i, got := range []ast.Value{NewObject(items), NewObjectTerm(items).Value} {
			sameObject(t, i, items, want, got, paths)
		}
	}
}

// sameObject compares an object of the input with OPA's (want).
func sameObject(t *testing.T, ctor int, items [][2]*ast.Term, want ast.Object, got ast.Value, paths []string) {
	t.Helper()
	{
		strs := true
		for _, it := range items {
			strs = strs && isA[ast.String](it[0])
		}
		if _, own := got.(*ownObject); own != strs {
			t.Errorf("constructor %d: NewObject(%v) is a %T", ctor, items, got)
		}
		if toOPA(ast.NewTerm(got)).Value.Compare(want) != 0 {
			t.Errorf("constructor %d: NewObject(%v) = %v, want %v", ctor, items, got, want)
		}
		for _, ps := range paths {
			path := ast.MustParseRef("x." + ps)[1:] // the keys after a head
			w, werr := want.Find(path)
			g, gerr := got.Find(path)
			if (werr != nil) != (gerr != nil) || w != nil && toOPA(ast.NewTerm(g)).Value.Compare(w) != 0 {
				t.Errorf("Find(%v) in %v = %v (%v), OPA says %v (%v)", path, want, g, gerr, w, werr)
			}
		}
		if g, _ := got.Find(nil); toOPA(ast.NewTerm(g)).Value.Compare(want) != 0 {
			t.Errorf("Find of no path in %v = %v", want, g)
		}
	}
}

// TestNewArrayMatchesOPA compares arrays of the input (NewArrayTerm) with
// OPA's: conversion, Find by index and below, length and equality.
func TestNewArrayMatchesOPA(t *testing.T) {
	entry := ast.MustParseTerm(`{"path": "messages.0.content", "role": "user", "text": "hi"}`)
	cases := [][]*ast.Term{
		{},
		{entry},
		{entry, ast.StringTerm("two"), ast.IntNumberTerm(3), ast.MustParseTerm(`[1, {"x": "y"}]`)},
		{entry, entry, entry, entry, entry, ast.StringTerm("six")}, // past the array's own room
	}
	paths := []string{`[0]`, `[0].text`, `[0].absent`, `[3][1].x`, `[5]`, `[9]`, `["0"]`, `[-1]`}
	for _, terms := range cases {
		want := ast.NewArray(terms...)
		in := append([]*ast.Term(nil), terms...)
		got := NewArrayTerm(in).Value
		if len(in) > 0 {
			in[0] = ast.StringTerm("changed") // NewArrayTerm copies its terms
		}
		if _, own := got.(*ownArray); !own {
			t.Errorf("NewArrayTerm(%v) is a %T", terms, got)
		}
		if toOPA(ast.NewTerm(got)).Value.Compare(want) != 0 {
			t.Errorf("NewArrayTerm(%v) = %v, want %v", terms, got, want)
		}
		if !equal(ast.NewTerm(got), ast.NewTerm(want)) {
			t.Errorf("equal(NewArrayTerm(%v), OPA's) = false", terms)
		}
		for _, ps := range paths {
			path := ast.MustParseRef("x" + ps)[1:]
			w, werr := want.Find(path)
			g, gerr := got.Find(path)
			if (werr != nil) != (gerr != nil) || w != nil && toOPA(ast.NewTerm(g)).Value.Compare(w) != 0 {
				t.Errorf("Find(%v) in %v = %v (%v), OPA says %v (%v)", path, want, g, gerr, w, werr)
			}
		}
	}
}

// TestAppendPairsMatchesForeach checks that AppendPairs gives an object's
// pairs as Foreach does, in OPA's key order, for the evaluator's own
// objects (values converted) and for OPA's, after what dst held.
func TestAppendPairsMatchesForeach(t *testing.T) {
	items := [][2]*ast.Term{
		ast.Item(ast.StringTerm("zeta"), ast.IntNumberTerm(1)),
		ast.Item(ast.StringTerm("alpha"), ast.MustParseTerm(`{"x": [1, 2]}`)),
		ast.Item(ast.StringTerm("mid"), ast.StringTerm("v")),
	}
	ownObj := NewObject(items)
	inner := &ownObject{}
	inner.put(ast.StringTerm("k"), ast.StringTerm("own inside"))
	ownObj.(*ownObject).put(ast.StringTerm("nested"), ast.NewTerm(inner))
	for _, o := range []ast.Value{ownObj, ast.NewObject(items...)} {
		obj, _ := ObjectOf(ast.NewTerm(o))
		var want [][2]*ast.Term
		obj.Foreach(func(k, v *ast.Term) { want = append(want, [2]*ast.Term{k, v}) })
		first := ast.Item(ast.StringTerm("before"), ast.NullTerm())
		got := AppendPairs([][2]*ast.Term{first}, obj)
		if len(got) != len(want)+1 || got[0] != first {
			t.Fatalf("AppendPairs(%v) = %v, want %v after %v", o, got, want, first)
		}
		for i, p := range got[1:] {
			if isOwn(p[1].Value) || !p[0].Equal(want[i][0]) || p[1].Value.Compare(want[i][1].Value) != 0 {
				t.Errorf("pair %d of %v = %v, Foreach gives %v", i, o, p, want[i])
			}
		}
	}
}
