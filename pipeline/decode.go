package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// DecodeConfig reads a free-form config map into dst, a pointer to a struct
// with json tags, refusing unknown keys. Errors start with path. An unknown
// key is named with where it sits and the keys that map takes, as in
// `pipeline[2] (rego): config: decision_log: unknown key "consle" (known:
// console, denied_only)`; extra are further keys the caller took out of
// config before decoding, named among the known ones at the top level.
func DecodeConfig(path string, config map[string]any, dst any, extra ...string) error {
	if len(config) == 0 {
		return nil
	}
	raw, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		got := describeJSON(te.Value)
		if v, ok := lookupSegment(config, te.Field); ok {
			if b, err := json.Marshal(v); err == nil && len(b) <= 64 {
				got = string(b) // the value itself, as config's messages show it
			}
		}
		return fmt.Errorf("%s: %s: want %s, got %s", path, te.Field, DescribeType(te.Type, "a map"), got)
	}
	msg := err.Error()
	if key, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ := strconv.Unquote(key)
		if at, known, found := unknownKey(config, reflect.TypeOf(dst), name, extra); found {
			return fmt.Errorf("%s: %sunknown key %s (known: %s)", path, at, key, strings.Join(known, ", "))
		}
		return fmt.Errorf("%s: unknown key %s", path, key)
	}
	if at, found := refusedValue(config, reflect.TypeOf(dst), msg); found {
		return fmt.Errorf("%s: %s: %s", path, at, msg) // a value its type's UnmarshalJSON refused
	}
	return fmt.Errorf("%s: %s", path, strings.TrimPrefix(msg, "json: "))
}

// DescribeType says in words what a value of type t is, as messages about
// a value of the wrong type do: "a whole number", "a list of strings";
// object names a map or struct ("a map" in a config, "an object" in JSON).
func DescribeType(t reflect.Type, object string) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if e := DescribeType(t.Elem(), object); strings.HasPrefix(e, "a ") {
			return "a list of " + e[2:] + "s"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return object
	case reflect.Pointer:
		return DescribeType(t.Elem(), object)
	}
	return t.String()
}

// describeJSON says what encoding/json found ("array", "number -5").
func describeJSON(value string) string {
	kind, rest, _ := strings.Cut(value, " ")
	name := map[string]string{"string": "a string", "number": "a number", "bool": "true or false",
		"array": "a list", "object": "a map"}[kind]
	switch {
	case name == "":
		return value
	case rest != "":
		return rest // the number itself
	}
	return name
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// refusedValue finds the value in config, decoding into t, that its own
// type's UnmarshalJSON refused with msg (encoding/json does not say which
// key held it): its path, as "ttl", "batch.max_age" or "targets[1]".
func refusedValue(config map[string]any, t reflect.Type, msg string) (string, bool) {
	return walk("", config, t, func(_, _ string, _ reflect.Type, v any, t reflect.Type) bool {
		if t == nil || !reflect.PointerTo(t).Implements(unmarshaler) {
			return false
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return false
		}
		err = json.Unmarshal(raw, reflect.New(t).Interface())
		return err != nil && err.Error() == msg
	})
}

// unknownKey finds name, a key encoding/json found no field for, in config
// against t, the type it decodes into: it returns the path of the map
// holding it ("" or "decision_log: ") and the keys that map takes; extra
// keys count as known at the top level.
func unknownKey(config map[string]any, t reflect.Type, name string, extra []string) (at string, known []string, found bool) {
	path, found := walk("", config, t, func(path, key string, in reflect.Type, _ any, t reflect.Type) bool {
		top := path == key
		if t != nil || key != name || top && slices.Contains(extra, key) {
			return false
		}
		known = slices.Sorted(maps.Keys(jsonFields(in)))
		if top {
			known = slices.Sorted(slices.Values(append(known, extra...)))
		}
		return true
	})
	if at = strings.TrimSuffix(strings.TrimSuffix(path, name), "."); at != "" {
		at += ": "
	}
	return at, known, found
}

// visitor is called for each value inside a config value: path is its
// path ("batch.max_age", "targets[1]", "routes.eu"), key its key in its
// map ("" for a list item), in the type of what holds it, t the type it
// decodes into, nil when no field takes key. It reports whether it found
// what it looks for, which ends the walk.
type visitor func(path, key string, in reflect.Type, v any, t reflect.Type) bool

// walk visits the values inside v, which decodes into t, in the order
// encoding/json decodes them (a map's keys sorted, depth first), through
// struct fields (matched as fieldOf does), map values and list items; it
// returns the path of the value visit found.
func walk(path string, v any, t reflect.Type, visit visitor) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	child := func(p, key string, cv any, ct reflect.Type) (string, bool) {
		if visit(p, key, t, cv, ct) {
			return p, true
		}
		if ct == nil {
			return "", false
		}
		return walk(p, cv, ct, visit)
	}
	switch v := v.(type) {
	case map[string]any:
		fields := jsonFields(t)
		if fields == nil && t.Kind() != reflect.Map {
			return "", false // free-form, or json's own type error
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			ct, _ := fieldOf(fields, k)
			if t.Kind() == reflect.Map {
				ct = t.Elem()
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			if p, found := child(p, k, v[k], ct); found {
				return p, true
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, item := range v {
				if p, found := child(path+"["+strconv.Itoa(i)+"]", "", item, t.Elem()); found {
					return p, true
				}
			}
		}
	}
	return "", false
}

// jsonFields maps the keys a struct type takes to their types, with
// embedded structs' keys promoted as encoding/json promotes them; nil when t
// is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			for k, ft := range jsonFields(f.Type) {
				out[k] = ft
			}
		case f.IsExported():
			out[cmp.Or(tag, f.Name)] = f.Type
		}
	}
	return out
}

// fieldOf finds key among fields the way encoding/json does: exactly, or
// else ignoring case.
func fieldOf(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for k, t := range fields {
		if strings.EqualFold(k, key) {
			return t, true
		}
	}
	return nil, false
}
