package jsonscan

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

type kv struct{ name, raw string }

func scanned(body string) ([]kv, bool) {
	var got []kv
	ok := Fields(body, func(n, r string) { got = append(got, kv{n, r}) })
	return got, ok
}

// viaGJSON is the oracle: gjson's fields, a name with escapes decoded by
// encoding/json as Fields documents (gjson keeps invalid UTF-8 there, where
// encoding/json, and so Fields, makes it U+FFFD).
func viaGJSON(body string) []kv {
	var want []kv
	gjson.Parse(body).ForEach(func(k, v gjson.Result) bool {
		name := k.Str
		if strings.IndexByte(k.Raw, '\\') >= 0 {
			json.Unmarshal([]byte(k.Raw), &name)
		}
		want = append(want, kv{name, v.Raw})
		return true
	})
	return want
}

func TestFields(t *testing.T) {
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
func FuzzFields(f *testing.F) {
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

func BenchmarkFields(b *testing.B) {
	body := string(benchBody)
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			Fields(body, func(string, string) {})
		}
	})
	b.Run("gjson", func(b *testing.B) {
		for b.Loop() {
			gjson.Parse(body).ForEach(func(_, _ gjson.Result) bool { return true })
		}
	})
}

func TestField(t *testing.T) {
	body := `{"choices":[{"message":{"content":"\"usage\":{}"}}],"usage":{"prompt_tokens":3},"usage":{"prompt_tokens":4},"x":1}`
	if raw, ok := Field(body, "usage"); !ok || raw != `{"prompt_tokens":4}` {
		t.Errorf("Field(usage) = %q, %v; want the last usage object", raw, ok)
	}
	if _, ok := Field(body, "missing"); ok {
		t.Error("Field(missing) found a field")
	}
}

func TestInt(t *testing.T) {
	for raw, want := range map[string]int64{"0": 0, "-7": -7, "171": 171, "1.9": 1, "-2.5": -2, "1e3": 1000, "9223372036854775807": 1<<63 - 1, `"42"`: 42} {
		if got, ok := Int(raw); !ok || got != want {
			t.Errorf("Int(%q) = %d, %v; want %d", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", "null", `"five"`, `""`, "true", "1e400", "9.3e18", "{}"} {
		if got, ok := Int(raw); ok {
			t.Errorf("Int(%q) = %d, true; want not a number", raw, got)
		}
	}
}

func TestKindOf(t *testing.T) {
	for raw, want := range map[string]Kind{"null": Null, "true": Bool, "false": Bool, "-1": Number, "3": Number,
		`"s"`: String, "[]": Array, "{}": Object, "": Invalid, "x": Invalid} {
		if got := KindOf(raw); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{`""`: "", `"gpt-4o"`: "gpt-4o", `"a\"b\u00e9\/"`: `a"bé/`} {
		if got, ok := Unquote(raw); !ok || got != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{``, `"`, `5`, `null`, `"\x"`} {
		if got, ok := Unquote(raw); ok {
			t.Errorf("Unquote(%s) = %q, true; want not a string", raw, got)
		}
	}
}

// TestSkipStringMatchesByteLoop checks skipString's word-at-a-time start
// and its IndexByte tail against a plain byte loop, on texts made of
// letters, quotes and backslashes at every offset across the 32-byte
// boundary where the two meet.
func TestSkipStringMatchesByteLoop(t *testing.T) {
	slow := func(s string) int {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'a', 'a', 'a', '"', '\\', 0xe9}
	for n := range 5000 {
		b := make([]byte, 1+rng.IntN(48))
		b[0] = '"'
		for i := 1; i < len(b); i++ {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if n%3 == 0 { // a long plain run, then the interesting part
			for i := 1; i < len(b) && i < 30; i++ {
				b[i] = 'x'
			}
		}
		s := string(b)
		if got, want := skipString(s, 0), slow(s); got != want {
			t.Fatalf("skipString(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestLastField(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"choices":[{"message":{"content":"\"usage\":{\"x\":1}"}}],"usage":{"prompt_tokens":3},"x":1}`, `{"prompt_tokens":3}`},
		{`{"usage":{"a":1},"b":{"usage":{"a":2}}}`, `{"a":1}`},     // the last one is nested
		{`{"usage":{"a":1},"b":"\"usage\":{\"a\":2}"}`, `{"a":1}`}, // the last one is quoted
		{`{"usage":1,"us\u0061ge":2}`, `2`},                        // the last one is escaped
		{`{"usage":1,"usage":2} `, `2`},
		{`[{"usage":1}]`, ``},
		{`{"x":{"usage":1}}`, ``},
		{`{"usage_x":1,"usage":{}}`, `{}`},
	} {
		got, ok := LastField(tc.body, "usage")
		want, wantOK := Field(tc.body, "usage")
		if got != tc.want || ok != (tc.want != "") || got != want || ok != wantOK {
			t.Errorf("LastField(%s) = %q, %v; want %q (Field: %q, %v)", tc.body, got, ok, tc.want, want, wantOK)
		}
	}
}

// FuzzLastField: on well-formed JSON, LastField finds what Field finds.
func FuzzLastField(f *testing.F) {
	f.Add(`{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3},"x":"usage"}`, "usage")
	f.Add(`{"a":{"usage":1},"usage":2}`, "usage")
	f.Add(`{"usage":1,"b":[{"usage":2}]}`, "usage")
	f.Fuzz(func(t *testing.T, body, name string) {
		if !Valid([]byte(body)) || name == "" || strings.ContainsAny(name, "\"\\") {
			return
		}
		got, ok := LastField(body, name)
		want, wantOK := Field(body, name)
		if got != want || ok != wantOK {
			t.Fatalf("LastField(%s, %q) = %q, %v; Field: %q, %v", body, name, got, ok, want, wantOK)
		}
	})
}
