package rego

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestJSONValueMatchesOPA(t *testing.T) {
	docs := []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi \"there\" \u00e9 \ud83d\ude00\n"}],"n":1,"t":0.25,"big":12345678901234567890,"neg":-1e-3,"ok":true,"no":false,"nil":null,"empty":{},"list":[]}`,
		`[1,[2,[3]],{"a":{"b":"c"}}]`,
		` "just a string" `,
	}
	for _, d := range docs {
		got, err := jsonValue([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		want, err := ast.ValueFromReader(bytesReader(d))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("jsonValue(%s) = %v, want %v", d, got, want)
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a":1,}`, `[1 2]`, `{"a":1}x`, `"unterminated`, `{"a":tru}`, "\"ctl\x01\"", `-`} {
		if _, err := jsonValue([]byte(bad)); err == nil {
			t.Errorf("jsonValue(%q) accepted malformed JSON", bad)
		}
	}
}

func TestFindPII(t *testing.T) {
	tests := []struct {
		text string
		want map[string][]string
	}{
		{"nothing to see, call 555 times at 10:30", nil},
		{"mail jane.doe+x@mail.example.co.uk.", map[string][]string{"email": {"jane.doe+x@mail.example.co.uk"}}},
		{"not an address: a@b, @home, x@y.z", nil},
		{"card 4111 1111 1111 1111 and 4111-1111-1111-1112", map[string][]string{"credit_card": {"4111 1111 1111 1111"}}},
		{"ssn 123-45-6789, not 000-12-3456 or 912-34-5678", map[string][]string{"ssn": {"123-45-6789"}}},
		{"call (415) 555-0132 or +44 20 7946 0958 or 415.555.0132", map[string][]string{"phone": {"(415) 555-0132", "+44 20 7946 0958", "415.555.0132"}}},
		{"order 4155550132 and version 1.2.3", nil},
		{"iban GB82 WEST 1234 5698 7654 32; bad GB83 WEST 1234 5698 7654 32; DE89370400440532013000", map[string][]string{"iban": {"GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"}}},
		{"ids abc4111111111111111 and x123-45-6789", nil},
	}
	for _, tt := range tests {
		got := findPII(tt.text)
		for _, v := range got {
			sort.Strings(v)
		}
		for _, v := range tt.want {
			sort.Strings(v)
		}
		if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("findPII(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestNeeds(t *testing.T) {
	tests := []struct {
		name, src string
		want      needs
	}{
		{"model only", `deny contains 1 if input.request.model == "x"`, needs{}},
		{"body", `deny contains 1 if input.request.body.max_tokens > 1`, needs{body: true}},
		{"texts and usage", "deny contains 1 if {\n some t in input.request.texts\n t.text == \"x\"\n input.usage.day.total_tokens > 1\n}", needs{texts: true, usage: true}},
		{"whole request", `deny contains 1 if { r := input.request; r.x }`, needs{body: true, texts: true}},
		{"input as a whole", `deny contains 1 if { x := input; x.y }`, allNeeds()},
		{"dynamic key", `deny contains 1 if { some k; input[k] }`, allNeeds()},
		{"response text", `deny contains 1 if contains(input.response.text, "x")`, needs{respText: true}},
		{"headers", `deny contains 1 if input.headers["x-a"]`, needs{headers: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ast.MustParseModule("package p\n\n" + tt.src)
			c := ast.NewCompiler()
			c.Compile(map[string]*ast.Module{"p.rego": m})
			if c.Failed() {
				t.Fatal(c.Errors)
			}
			if got := analyze(c); got != tt.want {
				t.Errorf("needs = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }
