package jsonscan

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var validCases = []string{
	`{}`, `[]`, `0`, `-0`, `1.5e+3`, `-12.25E-2`, `"x"`, `true`, `false`, `null`, ` { "a" : [ 1 , 2 ] } `,
	`{"model":"gpt-4o","messages":[{"role":"user","content":"a \"quoted\" {brace} \\ \/ \b\f\n\r\t \u00e9\uD83D\uDE00 ünïcödé"}]}`,
	`"` + strings.Repeat("eight by", 20) + `"`, `"a\u0000b"`, "\"\xff\xfe\"", // encoding/json does not check UTF-8
}

var invalidCases = []string{
	``, ` `, `{`, `}`, `[`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{1:2}`, `{"a":1}x`, `{} {}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `tru`, `nul`, `True`,
	`"abc`, `"a\"`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"" + strings.Repeat("x", 17) + "\n\"", `"\`,
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
}

func TestValid(t *testing.T) {
	for _, s := range validCases {
		if !Valid([]byte(s)) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range invalidCases {
		if Valid([]byte(s)) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
		if json.Valid([]byte(s)) {
			t.Errorf("case %q is valid to encoding/json: the test is wrong", s)
		}
	}
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if !Valid([]byte(deep)) || !json.Valid([]byte(deep)) {
		t.Error("nesting at the depth limit must be valid")
	}
}

// Every special byte at every offset of an eight-byte word is found, so
// the word-at-a-time skip never steps over a quote, backslash or control.
func TestValidSpecialByteAtEachOffset(t *testing.T) {
	for n := 0; n < 24; n++ {
		for _, c := range []string{`"`, `\`, "\x00", "\x1f", "\n"} {
			s := `"` + strings.Repeat("a", n) + c + strings.Repeat("b", 9) + `"`
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range append(validCases, invalidCases[:len(invalidCases)-1]...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// FuzzValidFields: ValidFields says what Valid says, and on a valid object
// it hands over the fields Fields does, in order.
func FuzzValidFields(f *testing.F) {
	for _, s := range append(validCases, invalidCases[:len(invalidCases)-1]...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a":1,"b\u0041":[{"c":2}],"":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		valid, object := ValidFields(b, func(name, raw string) { got = append(got, name, raw) })
		if valid != Valid(b) {
			t.Fatalf("ValidFields(%q) valid = %v, Valid says %v", b, valid, !valid)
		}
		if !valid {
			return
		}
		var want []string
		isObject := Fields(string(b), func(name, raw string) { want = append(want, name, raw) })
		if object != isObject || !slices.Equal(got, want) {
			t.Fatalf("ValidFields(%q) = %q (object %v), Fields: %q (%v)", b, got, object, want, isObject)
		}
	})
}

// benchBody is a typical ~1 KB chat request.
var benchBody = []byte(`{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"` +
	strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`)

func BenchmarkValid(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		Valid(benchBody)
	}
}

// BenchmarkValidGJSON is the check Valid replaced, for comparison.
func BenchmarkValidGJSON(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		gjson.ValidBytes(benchBody)
	}
}

func BenchmarkValidEncodingJSON(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		json.Valid(benchBody)
	}
}

// TestWhy: the reason names what is wrong and the byte where it is.
func TestWhy(t *testing.T) {
	for in, want := range map[string]string{
		`{"model":"gpt-4o"}`:  "",
		`{"model":"gpt-4o",}`: "invalid character '}' looking for beginning of object key string, at byte 19",
		`{"messages":[1 2]}`:  "invalid character '2' after array element, at byte 16",
		`{"model":"gpt-4o"`:   "unexpected end of JSON input, at byte 17",
		`[` + strings.Repeat("[", 10000) + strings.Repeat("]", 10001): "arrays and objects nest more than 10000 deep, at byte 10001",
		``:                 "unexpected end of JSON input, at byte 0",
		"\x1f\x8b\x08\x00": "it is gzip-compressed (it starts with the bytes 1f 8b): send the body uncompressed",
	} {
		if got := Why([]byte(in)); got != want {
			t.Errorf("Why(%.30q) = %q, want %q", in, got, want)
		}
		if valid := Valid([]byte(in)); valid != (want == "") {
			t.Errorf("Valid(%.30q) = %v, but Why says %q", in, valid, want)
		}
	}
}
