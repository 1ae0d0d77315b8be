package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checker walks the merged configuration map against the shape of Config
// before it is decoded. It reports every unknown key and every value of the
// wrong type with its path, converts strings from the environment to the
// numbers and durations they stand for, and drops the values it rejected so
// that decoding the rest cannot fail.
type checker struct {
	problems []Problem
}

var durationType = reflect.TypeFor[time.Duration]()

// add records a problem at path.
func (c *checker) add(path, msg string) {
	c.problems = append(c.problems, Problem{Path: path, Message: msg})
}

// value checks v, found at path, against the Go type t. It returns the value
// to decode, or false when v is to be left out.
func (c *checker) value(path string, v any, t reflect.Type) (any, bool) {
	if v == nil {
		return nil, false // "key:" with no value: as if the key were absent
	}
	if t == durationType {
		return c.duration(path, v)
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			c.add(path, "want a string, got "+describe(v))
		}
		return s, ok
	case reflect.Int, reflect.Int64:
		return c.integer(path, v)
	case reflect.Bool:
		return c.boolean(path, v)
	case reflect.Struct:
		return c.structure(path, v, t)
	case reflect.Map:
		return c.mapping(path, v, t)
	case reflect.Slice:
		return c.list(path, v, t)
	case reflect.Interface:
		return v, true
	}
	panic(fmt.Sprintf("config: no check for %s at %s", t, path))
}

// structure checks a map against struct type t, field by field.
func (c *checker) structure(path string, v any, t reflect.Type) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want a map, got "+describe(v))
		return nil, false
	}
	fields := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		name := f.Tag.Get("koanf")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		p := joinKey(path, k)
		ft, known := fields[k]
		if !known {
			c.add(p, "unknown key"+suggest(k, names))
			continue
		}
		if cv, ok := c.value(p, m[k], ft); ok {
			out[k] = cv
		}
	}
	return out, true
}

// mapping checks a map whose keys are names chosen by the user.
func (c *checker) mapping(path string, v any, t reflect.Type) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want a map, got "+describe(v))
		return nil, false
	}
	if t.Elem().Kind() == reflect.Interface {
		return m, true // free-form, like a stage's config: passed through
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		if cv, ok := c.value(joinKey(path, k), m[k], t.Elem()); ok {
			out[k] = cv
		}
	}
	return out, true
}

// list checks a list item by item.
func (c *checker) list(path string, v any, t reflect.Type) (any, bool) {
	l, ok := v.([]any)
	if !ok {
		msg := "want a list, got " + describe(v)
		if _, isMap := v.(map[string]any); isMap {
			msg += " (a list can be set only in the config file)"
		}
		c.add(path, msg)
		return nil, false
	}
	out := make([]any, 0, len(l))
	for i, item := range l {
		cv, ok := c.value(joinIndex(path, i), item, t.Elem())
		if !ok {
			cv = nil // keep the indexes of later items
		}
		out = append(out, cv)
	}
	return out, true
}

// integer accepts a whole number of any Go integer type (YAML gives int,
// typed flags others), a float with no fraction, or a string holding a
// whole number (from the environment or a flag).
func (c *checker) integer(path string, v any) (any, bool) {
	switch n := v.(type) {
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err == nil {
			return i, true
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	default:
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanInt():
			return rv.Int(), true
		case rv.CanUint() && rv.Uint() <= math.MaxInt64:
			return int64(rv.Uint()), true
		}
	}
	c.add(path, "want a whole number, got "+describe(v))
	return nil, false
}

// boolean accepts true or false, or a string holding one.
func (c *checker) boolean(path string, v any) (any, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		if x, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
			return x, true
		}
	}
	c.add(path, "want true or false, got "+describe(v))
	return nil, false
}

// duration accepts a Go duration string like "30s" or "1m30s", a
// time.Duration from a flag, or a bare 0.
func (c *checker) duration(path string, v any) (any, bool) {
	switch d := v.(type) {
	case string:
		if x, err := time.ParseDuration(strings.TrimSpace(d)); err == nil {
			return x, true
		}
	case time.Duration:
		return d, true
	case int:
		if d == 0 {
			return time.Duration(0), true
		}
	}
	msg := `want a duration like "30s" or "1m30s", got ` + describe(v)
	switch v.(type) {
	case int, int64, uint64, float64:
		msg += " (add a unit)"
	}
	c.add(path, msg)
	return nil, false
}

// describe names a value for a message: strings quoted, unless they look
// like a secret, numbers and booleans as written, maps and lists by kind.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	case bool, time.Duration:
		return fmt.Sprint(x)
	}
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt(), rv.CanUint(), rv.CanFloat():
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("a value of type %T", v)
}

// quote quotes s for a message. A string that holds something shaped like a
// credential is described by its length only, so a key pasted into the
// wrong place is not echoed back into a log.
func quote(s string) string {
	if looksSecret(s) {
		return fmt.Sprintf("a %d-character string", len(s))
	}
	return strconv.Quote(s)
}

// looksSecret reports whether s holds something shaped like an API key or
// token: a run of 20 or more letters, digits, "-" and "_" with both letters
// and digits in it.
func looksSecret(s string) bool {
	for _, run := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		if len(run) >= 20 && strings.ContainsAny(run, "0123456789") &&
			strings.ContainsFunc(run, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) {
			return true
		}
	}
	return false
}

// sortedKeys returns m's keys in order, so problems come out the same way
// every time.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
