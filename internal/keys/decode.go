package keys

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
	"time"

	"github.com/tollgate-dev/tollgate/internal/jsonscan"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// decode reads data, one JSON value, into what dst points to, as
// encoding/json does, but its errors name the place of the value at fault:
// `metadata.y: want a string, got [1]`, `models[1]: want a string, got 5`,
// `limits.monthly_budget: not a dollar amount: "lots" …` (encoding/json
// says "metadata" or "models", and nothing at all for a value its type's
// UnmarshalJSON refuses). It also refuses null as a map value, which
// encoding/json stores as "". With strict, a key no struct field takes is
// refused, naming the keys that are taken. It does not handle embedded
// structs: the types it reads have none.
func decode(data []byte, dst any, strict bool) error {
	if why := jsonscan.Why(data); why != "" {
		return fmt.Errorf("not valid JSON: %s", why)
	}
	return decodeValue(data, reflect.ValueOf(dst).Elem(), strict)
}

// placeError is an error about the value at path ("" at the top).
type placeError struct{ path, msg string }

func (e *placeError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// under puts err, from a value inside, under seg: a key or "[i]".
func under(seg string, err error) error {
	pe, ok := err.(*placeError)
	switch {
	case !ok:
		return err
	case pe.path == "":
		pe.path = seg
	case pe.path[0] == '[':
		pe.path = seg + pe.path
	default:
		pe.path = seg + "." + pe.path
	}
	return pe
}

var (
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
	timeType    = reflect.TypeFor[time.Time]()
)

func decodeValue(raw []byte, v reflect.Value, strict bool) error {
	t := v.Type()
	null := string(raw) == "null"
	switch {
	case reflect.PointerTo(t).Implements(unmarshaler):
		return decodeLeaf(raw, v)
	case null:
		v.SetZero() // as encoding/json: null leaves a value unset
		return nil
	case t.Kind() == reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		return decodeValue(raw, v.Elem(), strict)
	case t.Kind() == reflect.Struct:
		return decodeStruct(raw, v, strict)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		return decodeMap(raw, v, strict)
	case t.Kind() == reflect.Slice:
		return decodeList(raw, v, strict)
	}
	return decodeLeaf(raw, v)
}

func decodeLeaf(raw []byte, v reflect.Value) error {
	err := json.Unmarshal(raw, v.Addr().Interface())
	switch {
	case err == nil:
		return nil
	case v.Type() == timeType:
		return &placeError{msg: "want a time such as 2026-01-02T15:04:05Z, got " + shown(raw)}
	case errors.As(err, new(*json.UnmarshalTypeError)):
		return wrongKind(raw, v.Type())
	}
	return &placeError{msg: strings.TrimPrefix(err.Error(), "json: ")}
}

func decodeStruct(raw []byte, v reflect.Value, strict bool) error {
	fields := fieldsOf(v.Type())
	return eachMember(raw, v.Type(), func(key string, val []byte) error {
		i, ok := fieldIndex(fields, key)
		if !ok {
			if strict {
				return &placeError{msg: fmt.Sprintf("unknown key %q (known: %s)", key,
					strings.Join(slices.Sorted(maps.Keys(fields)), ", "))}
			}
			return nil
		}
		return under(key, decodeValue(val, v.Field(i), strict))
	})
}

func decodeMap(raw []byte, v reflect.Value, strict bool) error {
	t := v.Type()
	m := reflect.MakeMap(t)
	err := eachMember(raw, t, func(key string, val []byte) error {
		if string(val) == "null" {
			return under(key, wrongKind(val, t.Elem()))
		}
		e := reflect.New(t.Elem()).Elem()
		if err := decodeValue(val, e, strict); err != nil {
			return under(key, err)
		}
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
		return nil
	})
	if err == nil {
		v.Set(m)
	}
	return err
}

func decodeList(raw []byte, v reflect.Value, strict bool) error {
	t := v.Type()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, _ := dec.Token(); tok != json.Delim('[') {
		return wrongKind(raw, t)
	}
	l := reflect.MakeSlice(t, 0, 0)
	for i := 0; dec.More(); i++ {
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return &placeError{msg: err.Error()} // not reached: raw is valid JSON
		}
		e := reflect.New(t.Elem()).Elem()
		if err := decodeValue(item, e, strict); err != nil {
			return under("["+strconv.Itoa(i)+"]", err)
		}
		l = reflect.Append(l, e)
	}
	v.Set(l)
	return nil
}

// eachMember calls fn with each key and value of raw, a JSON object that
// decodes into t, in order.
func eachMember(raw []byte, t reflect.Type, fn func(key string, val []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return wrongKind(raw, t)
	}
	for dec.More() {
		tok, err := dec.Token()
		var val json.RawMessage
		if err == nil {
			err = dec.Decode(&val)
		}
		if err != nil {
			return &placeError{msg: err.Error()} // not reached: raw is valid JSON
		}
		if err := fn(tok.(string), val); err != nil {
			return err
		}
	}
	return nil
}

// fieldsOf maps the keys a struct takes to its fields' indexes.
func fieldsOf(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "-" {
			out[cmp.Or(name, f.Name)] = i
		}
	}
	return out
}

// fieldIndex finds key as encoding/json does: exactly, or else ignoring case.
func fieldIndex(fields map[string]int, key string) (int, bool) {
	if i, ok := fields[key]; ok {
		return i, true
	}
	for k, i := range fields {
		if strings.EqualFold(k, key) {
			return i, true
		}
	}
	return 0, false
}

func wrongKind(raw []byte, t reflect.Type) error {
	return &placeError{msg: "want " + pipeline.DescribeType(t, "an object") + ", got " + shown(raw)}
}

// shown is a value as an error quotes it: itself, exactly as sent (a long
// number is not rounded), or its kind when it is long.
func shown(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil && b.Len() <= 64 {
		return b.String()
	}
	return jsonscan.KindOf(string(bytes.TrimSpace(raw))).Described()
}
