package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// DecodeConfig reads a free-form config map into dst, a pointer to a struct
// with json tags, as encoding/json would but strictly: a key no field takes
// is refused, and so is null as a map's value where the map holds strings,
// numbers or structs (encoding/json would store "" or 0). Errors start with
// path and name the place of the value at fault, through struct fields,
// list items and map values, and show the value itself:
// `pipeline[2] (rego): config: decision_log: unknown key "consle" (known:
// console, denied_only)`, `config: targets[1].model: want a string, got
// 5`, `config: ttl: want a duration like "30s", got "soon"`. extra are
// further keys the caller took out of config before decoding, named among
// the known ones at the top level (and skipped there if present).
func DecodeConfig(path string, config map[string]any, dst any, extra ...string) error {
	if len(config) == 0 {
		return nil
	}
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false) // a value an error shows is shown as written: "<", not "\u003c"
	if err := enc.Encode(config); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	d := decoder{words: configWords, extra: extra}
	if err := d.decode(bytes.TrimSpace(raw.Bytes()), dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// DecodeJSON reads data, one JSON value, into dst as [DecodeConfig] reads a
// config, strictly, with errors that name the place of the value at fault
// and show it exactly as sent (a long number is not rounded):
// `metadata.y: want a string, got [1]`, `limits: unknown key "rpm" (known:
// …)`. It names kinds of value as JSON does ("want an object"). Invalid
// JSON is an error that says where: `not valid JSON: unexpected end of JSON
// input, at byte 12`.
func DecodeJSON(data []byte, dst any) error {
	if !json.Valid(data) {
		err := json.Unmarshal(data, new(any))
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return fmt.Errorf("not valid JSON: %s, at byte %d", se, se.Offset)
		}
		return fmt.Errorf("not valid JSON: %v", err)
	}
	d := decoder{words: jsonWords}
	return d.decode(bytes.TrimSpace(data), dst)
}

// words are how messages name a JSON object and array: a config file's
// words (YAML's map and list) or JSON's.
type words struct{ object, array string }

var (
	configWords = words{object: "a map", array: "a list"}
	jsonWords   = words{object: "an object", array: "an array"}
)

// placeError is an error about the value at path ("" at the top): a key,
// a dotted path of keys, with "[i]" for a list item.
type placeError struct{ path, msg string }

func (e *placeError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// under puts err, about a value inside, under seg: a key or "[i]".
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

// wrongKind says that raw is not what a value of type t is.
func (d *decoder) wrongKind(raw []byte, t reflect.Type) error {
	return &placeError{msg: "want " + describeType(t, d.words.object) + ", got " + d.shown(raw)}
}

// shown is a value as an error quotes it: itself, exactly as written (a
// long number is not rounded), or its kind when it is long.
func (d *decoder) shown(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil && b.Len() <= 64 {
		return b.String()
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return d.words.object
	case '[':
		return d.words.array
	}
	return "a number" // a literal is short
}

// describeType says in words what a value of type t is, as messages about
// a value of the wrong type do: "a whole number", "a list of strings";
// object names a map or struct ("a map" in a config, "an object" in JSON).
func describeType(t reflect.Type, object string) string {
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
		if t.Elem().Kind() == reflect.Bool {
			return "a list of true or false"
		}
		if e := describeType(t.Elem(), object); strings.HasPrefix(e, "a ") {
			return "a list of " + e[2:] + "s"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return object
	case reflect.Pointer:
		return describeType(t.Elem(), object)
	}
	return t.String()
}
