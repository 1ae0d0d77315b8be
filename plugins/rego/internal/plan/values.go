package plan

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

type jsonNumber = json.Number

// dot looks a key up: an object's value, an array's element, a set's
// member; undefined (nil) for anything else.
func dot(src, key *ast.Term) *ast.Term {
	if src == nil || key == nil {
		return nil
	}
	switch v := src.Value.(type) {
	case *ownObject:
		return v.get(key)
	case *ownArray:
		return v.get(key)
	case ast.Object:
		return v.Get(toOPA(key))
	case *ast.Array:
		return v.Get(key)
	case ast.Set:
		if v.Contains(toOPA(key)) {
			return key
		}
	}
	return nil
}

// equal compares as OPA values (1 and 1.0 are equal); undefined equals
// only undefined.
func equal(a, b *ast.Term) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a == b {
		return true
	}
	if isOwn(a.Value) || isOwn(b.Value) {
		return kind(a.Value) == kind(b.Value) && opaValue(a.Value).Compare(opaValue(b.Value)) == 0
	}
	return a.Value.Compare(b.Value) == 0
}

// kind tells objects, arrays and the rest apart, own values with OPA's:
// values of different kinds are never equal.
func kind(v ast.Value) int {
	switch v.(type) {
	case ast.Object, *ownObject:
		return 1
	case *ast.Array, *ownArray:
		return 2
	}
	return 0
}

func length(t *ast.Term) (int, bool) {
	if t == nil {
		return 0, false
	}
	switch v := t.Value.(type) {
	case *ownObject:
		return len(v.pairs), true
	case *ownArray:
		return len(v.elems), true
	case *ast.Array:
		return v.Len(), true
	case ast.Object:
		return v.Len(), true
	case ast.Set:
		return v.Len(), true
	case ast.String:
		return utf8.RuneCountInString(string(v)), true
	}
	return 0, false
}

// valueOf is t's value, nil for undefined.
func valueOf(t *ast.Term) ast.Value {
	if t == nil {
		return nil
	}
	return t.Value
}

func isA[T any](t *ast.Term) bool {
	if t == nil {
		return false
	}
	_, ok := t.Value.(T)
	return ok
}

// merge merges a base document (a) with a virtual one (b) as topdown
// does: objects key by key, recursively; elsewhere a wins.
func merge(a, b *ast.Term) *ast.Term {
	a, b = toOPA(a), toOPA(b)
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	objA, ok1 := a.Value.(ast.Object)
	objB, ok2 := b.Value.(ast.Object)
	if !ok1 || !ok2 {
		return a
	}
	return ast.NewTerm(mergeObjects(objA, objB))
}

func mergeObjects(objA, objB ast.Object) ast.Object {
	result := ast.NewObjectWithCapacity(objA.Len() + objB.Len())
	objA.Foreach(func(k, v *ast.Term) {
		v2 := objB.Get(k)
		if v2 == nil {
			result.Insert(k, v)
			return
		}
		result.Insert(k, merge(v, v2))
	})
	objB.Foreach(func(k, v *ast.Term) {
		if objA.Get(k) == nil {
			result.Insert(k, v)
		}
	})
	return result
}
