//go:build !wasip1

package sdk

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// fill sets every field of the struct v points to, recursively, to a value
// that is not its zero value, so that encoding/json writes every field,
// omitempty or not. A field added to the struct later is filled too.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i))
			}
		}
	case reflect.String:
		if v.Type() == reflect.TypeFor[json.Number]() {
			v.SetString("0.000375")
			return
		}
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0))
		v.Set(s)
	default:
		t.Fatalf("fill: no value for a field of kind %s (%s): teach fill about it", v.Kind(), v.Type())
	}
}

// strictDecode decodes b into v, refusing fields v does not have.
func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// keys are the field names of a JSON object, sorted.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// sameJSON reports whether a and b are the same JSON document.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestUsageEventShape fails when sdk.UsageEvent and core.UsageEvent, which
// the usage hook's document is made of, stop having the same JSON shape:
// a field one has and the other lacks, or a field whose value does not
// survive the trip. A plugin cannot import core, so the SDK keeps its own
// copy of the type; change both together.
func TestUsageEventShape(t *testing.T) {
	t.Run("gateway to plugin", func(t *testing.T) {
		var ev core.UsageEvent
		fill(t, reflect.ValueOf(&ev).Elem())
		ev.Cost = new(core.USD)
		*ev.Cost = 375 * core.Microdollar / 1000 // 0.000375: exact digits
		sent, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		var got UsageEvent
		if err := strictDecode(sent, &got); err != nil {
			t.Fatalf("a plugin cannot read the gateway's usage event: %v\ngateway fields: %v\nsdk fields: %v",
				err, keys(t, sent), keys(t, mustMarshal(t, filledSDK(t))))
		}
		back := mustMarshal(t, &got)
		if !sameJSON(t, sent, back) {
			t.Fatalf("a field changed on the way through sdk.UsageEvent:\ngateway: %s\nsdk:     %s", sent, back)
		}
	})
	t.Run("plugin to gateway", func(t *testing.T) {
		sent := mustMarshal(t, filledSDK(t))
		var got core.UsageEvent
		if err := strictDecode(sent, &got); err != nil {
			t.Fatalf("sdk.UsageEvent has a field the gateway's event lacks: %v\nsdk fields: %v", err, keys(t, sent))
		}
		back := mustMarshal(t, &got)
		if !sameJSON(t, sent, back) {
			t.Fatalf("a field changed on the way through core.UsageEvent:\nsdk:     %s\ngateway: %s", sent, back)
		}
	})
}

func filledSDK(t *testing.T) *UsageEvent {
	t.Helper()
	ev := new(UsageEvent)
	fill(t, reflect.ValueOf(ev).Elem())
	return ev
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
