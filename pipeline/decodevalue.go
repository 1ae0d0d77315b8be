package pipeline

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder reads valid JSON into Go values as encoding/json does, walking
// structs, maps, lists and pointers itself so that an error names the
// place of the value at fault, which encoding/json does not (it says
// "targets.model" for targets[1].model, "metadata" for metadata.y, and
// nothing at all for a value its type's UnmarshalJSON refuses). Every other
// value, and every value whose type decodes itself, is left to
// encoding/json, so what is decoded is what encoding/json decodes, but for
// null as the value of a map of strings, numbers or structs, which is
// refused. A key no struct field takes is refused. It decodes into what dst
// holds, as encoding/json does: a key not in the JSON keeps its value, a
// map is added to, a list is replaced.
type decoder struct {
	words words
	// extra are keys the caller reads itself: known at the top level.
	extra []string
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
)

func (d *decoder) decode(raw []byte, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("pipeline: decoding into %T, not a pointer", dst)
	}
	return d.value(raw, v.Elem(), true)
}

// value decodes raw into v; top is set for the value dst points to.
func (d *decoder) value(raw []byte, v reflect.Value, top bool) error {
	t := v.Type()
	null := raw[0] == 'n'
	switch {
	case t.Kind() == reflect.Pointer && null:
		v.SetZero()
		return nil
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(raw, v.Elem(), top)
	case decodesItself(t):
		return d.leaf(raw, v)
	case null: // as encoding/json: null clears what can be nil, and leaves the rest
		switch t.Kind() {
		case reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return nil
	}
	return d.container(raw, v, top)
}

// container decodes raw into v, a struct, map or list that does not
// decode itself, and any other value as a leaf.
func (d *decoder) container(raw []byte, v reflect.Value, top bool) error {
	t := v.Type()
	switch t.Kind() {
	case reflect.Struct:
		return d.object(raw, v, top)
	case reflect.Map:
		if t.Key().Kind() == reflect.String && !decodesItself(t.Key()) {
			return d.mapOf(raw, v)
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 || decodesItself(t.Elem()) { // []byte is base64
			return d.list(raw, v)
		}
	}
	return d.leaf(raw, v)
}

// decodesItself reports whether encoding/json decodes a t with a method of
// t's own.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(textUnmarshalerType) ||
		t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

// leaf decodes raw into v with encoding/json.
func (d *decoder) leaf(raw []byte, v reflect.Value) error {
	err := json.Unmarshal(raw, v.Addr().Interface())
	switch {
	case err == nil:
		return nil
	case v.Type() == timeType:
		return &placeError{msg: "want a time such as 2026-01-02T15:04:05Z, got " + d.shown(raw)}
	case decodesItself(v.Type()):
		if fromJSON(err) && raw[0] != 'n' {
			// an UnmarshalJSON that decodes a struct, map or list with
			// encoding/json (a shorthand, and else the plain form): say
			// where in it, and which keys it takes, as for any other
			switch v.Type().Kind() {
			case reflect.Struct, reflect.Map, reflect.Slice:
				if err := d.container(raw, reflect.New(v.Type()).Elem(), false); err != nil {
					return err
				}
			}
		}
		return &placeError{msg: strings.TrimPrefix(err.Error(), "json: ")} // the type's own message
	case errors.As(err, new(*json.UnmarshalTypeError)):
		return d.wrongKind(raw, v.Type())
	}
	return &placeError{msg: strings.TrimPrefix(err.Error(), "json: ")}
}

func (d *decoder) object(raw []byte, v reflect.Value, top bool) error {
	if raw[0] != '{' {
		return d.wrongKind(raw, v.Type())
	}
	fields := fieldsOf(v.Type())
	given := map[string]string{} // a field's name -> its key as written
	return members(raw, func(key string, val []byte) error {
		f, name, ok := fields.lookup(key)
		if first, twice := given[name]; twice {
			return under(key, givenTwice(key, first))
		}
		if ok {
			given[name] = key
		}
		switch {
		case !ok && top && slices.Contains(d.extra, key):
			return nil
		case !ok:
			known := fields.names
			if top && len(d.extra) > 0 {
				known = slices.Sorted(slices.Values(append(slices.Clone(known), d.extra...)))
			}
			return &placeError{msg: fmt.Sprintf("unknown key %q (known: %s)", key, strings.Join(known, ", "))}
		}
		fv, err := fieldAt(v, f.index)
		if err != nil {
			return under(key, err)
		}
		if f.quoted {
			return under(key, d.quoted(val, fv, f))
		}
		return under(key, d.value(val, fv, false))
	})
}

// quoted decodes a field with the json tag option ",string" (a number or
// bool written as a JSON string) with encoding/json, which knows the
// option's rules.
func (d *decoder) quoted(raw []byte, v reflect.Value, f field) error {
	holder := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "V", Type: v.Type(), Tag: `json:"v,string"`},
	}))
	holder.Elem().Field(0).Set(v)
	wrapped := append(append([]byte(`{"v":`), raw...), '}')
	if err := json.Unmarshal(wrapped, holder.Interface()); err != nil {
		return &placeError{msg: "want " + describeType(f.typ, d.words.object) + " in a string, got " + d.shown(raw)}
	}
	v.Set(holder.Elem().Field(0))
	return nil
}

func (d *decoder) mapOf(raw []byte, v reflect.Value) error {
	t := v.Type()
	if raw[0] != '{' {
		return d.wrongKind(raw, t)
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	elem := t.Elem()
	nullable := decodesItself(elem)
	switch elem.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		nullable = true
	}
	given := map[string]bool{}
	return members(raw, func(key string, val []byte) error {
		if given[key] {
			return under(key, givenTwice(key, key))
		}
		given[key] = true
		if val[0] == 'n' && !nullable { // encoding/json would store "" or 0: say so instead
			return under(key, d.wrongKind(val, elem))
		}
		e := reflect.New(elem).Elem()
		if err := d.value(val, e, false); err != nil {
			return under(key, err)
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
		return nil
	})
}

func (d *decoder) list(raw []byte, v reflect.Value) error {
	t := v.Type()
	if raw[0] != '[' {
		return d.wrongKind(raw, t)
	}
	l := reflect.MakeSlice(t, 0, 0)
	i := 0
	err := elements(raw, func(item []byte) error {
		e := reflect.New(t.Elem()).Elem()
		if err := d.value(item, e, false); err != nil {
			return under("["+strconv.Itoa(i)+"]", err)
		}
		l = reflect.Append(l, e)
		i++
		return nil
	})
	if err == nil {
		v.Set(l)
	}
	return err
}

// givenTwice refuses a key written twice in one object, which
// encoding/json takes silently, the last value winning: in a keys file
// `"revoked": true, ..., "revoked": false` would leave the key valid. The
// keys of a struct match ignoring case, so "TTL" after "ttl" is the same
// key twice.
func givenTwice(key, first string) error {
	if key != first {
		return &placeError{msg: fmt.Sprintf("given twice (first as %q)", first)}
	}
	return &placeError{msg: "given twice"}
}

// fromJSON reports whether err is encoding/json's about a value of the
// wrong type or an unknown key.
func fromJSON(err error) bool {
	return errors.As(err, new(*json.UnmarshalTypeError)) || strings.HasPrefix(err.Error(), "json: unknown field ")
}
