package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// field is a key a struct takes.
type field struct {
	index  []int // as reflect.Value.FieldByIndex, through embedded structs
	typ    reflect.Type
	quoted bool // the json tag option ",string"
}

// fieldSet is the keys a struct type takes.
type fieldSet struct {
	byKey map[string]field
	names []string // sorted, for messages
}

var fieldSets sync.Map // reflect.Type -> *fieldSet

// fieldsOf returns the keys struct type t takes, as encoding/json finds
// them: json tags, "-" left out, the keys of embedded structs promoted,
// and of two keys of one name the shallower, or else the tagged one (a
// tie leaves both out).
func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	type candidate struct {
		field
		name   string
		tagged bool
	}
	var found []candidate
	var visit func(t reflect.Type, index []int, seen map[reflect.Type]bool)
	visit = func(t reflect.Type, index []int, seen map[reflect.Type]bool) {
		if seen[t] {
			return // an embedded struct that embeds itself
		}
		seen = maps.Clone(seen)
		if seen == nil {
			seen = map[reflect.Type]bool{}
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			at := append(slices.Clone(index), i)
			if ft := f.Type; f.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					visit(ft, at, seen)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			quoted := slices.Contains(strings.Split(opts, ","), "string")
			found = append(found, candidate{field{at, f.Type, quoted}, cmp.Or(name, f.Name), name != ""})
		}
	}
	visit(t, nil, nil)
	fs := &fieldSet{byKey: map[string]field{}}
	byName := map[string][]candidate{}
	for _, c := range found {
		byName[c.name] = append(byName[c.name], c)
	}
	for name, cs := range byName {
		depth := slices.MinFunc(cs, func(a, b candidate) int { return len(a.index) - len(b.index) })
		cs = slices.DeleteFunc(cs, func(c candidate) bool { return len(c.index) > len(depth.index) })
		if tagged := slices.DeleteFunc(slices.Clone(cs), func(c candidate) bool { return !c.tagged }); len(tagged) > 0 {
			cs = tagged
		}
		if len(cs) == 1 {
			fs.byKey[name] = cs[0].field
		}
	}
	fs.names = slices.Sorted(maps.Keys(fs.byKey))
	actual, _ := fieldSets.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

// lookup finds key as encoding/json does: exactly, or else ignoring case.
// It returns the field's own name too.
func (fs *fieldSet) lookup(key string) (field, string, bool) {
	if f, ok := fs.byKey[key]; ok {
		return f, key, true
	}
	for _, name := range fs.names {
		if strings.EqualFold(name, key) {
			return fs.byKey[name], name, true
		}
	}
	return field{}, "", false
}

// fieldAt is v's field at index, making the embedded structs on the way
// that are nil pointers.
func fieldAt(v reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, &placeError{msg: fmt.Sprintf("cannot set the embedded pointer to unexported struct %s", v.Type().Elem())}
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, nil
}
