package cache

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tidwall/gjson"
)

type kv struct{ name, raw string }

func scanned(body string) ([]kv, bool) {
	var got []kv
	ok := topFields(body, func(n, r string) { got = append(got, kv{n, r}) })
	return got, ok
}

func viaGJSON(body string) []kv {
	var want []kv
	gjson.Parse(body).ForEach(func(k, v gjson.Result) bool {
		want = append(want, kv{k.Str, v.Raw})
		return true
	})
	return want
}

func TestTopFields(t *testing.T) {
	for _, body := range []string{
		`{}`, ` { } `, `{"a":1}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"a \"quoted\" {brace} [and] \\\\"}],"n":-1.5e3,"t":true,"x":null}`,
		"{\n\t\"a\" : [ 1 , {\"b\":\"}\"} ] ,\r\n \"c\":\"\\\\\\\"\"}",
		`{"esc\"aped":1,"b":2}`, `{"\u0061":1}`,
	} {
		got, ok := scanned(body)
		if want := viaGJSON(body); !ok || !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q (ok %v)\nwant %q", body, got, ok, want)
		}
	}
	for _, bad := range []string{``, `[]`, `"s"`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":"x`, `{"a":[1,2}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`} {
		if _, ok := scanned(bad); ok {
			t.Errorf("%q: ok; want not an object", bad)
		}
	}
}

// FuzzTopFields: on every valid JSON object the scanner agrees with gjson.
func FuzzTopFields(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"content":"hi \"there\""}],"max_tokens":5}`)
	f.Add(`{"a":{"b":[1,{"c":"]"}]},"d":"\\"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) != nil {
			scanned(body) // must not panic
			return
		}
		got, ok := scanned(body)
		if want := viaGJSON(body); !ok || !slices.Equal(got, want) {
			t.Fatalf("%s:\n got %q (ok %v)\nwant %q", body, got, ok, want)
		}
	})
}

func BenchmarkTopFields(b *testing.B) {
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			topFields(benchBody, func(string, string) {})
		}
	})
	b.Run("gjson", func(b *testing.B) {
		for b.Loop() {
			gjsonFields(benchBody, func(string, string) {})
		}
	})
}
