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

func TestJSONFields(t *testing.T) {
	doc := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi \"there\""}],"max_tokens":100,"t":0.25,` +
		`"generationConfig":{"maxOutputTokens":5},"n\u0061me":"x","ok":true,"nil":null,"deep":[[{"a":[1,2,{"b":"c"}]}]]}`
	full, err := jsonValue([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{"model"}, {"max_tokens", "generationConfig"}, {"name", "nil", "absent"}, {}, {"deep", "messages", "ok", "t"}} {
		got, err := jsonFields([]byte(doc), keys, nil)
		if err != nil {
			t.Fatalf("%v: %v", keys, err)
		}
		want := ast.NewObject()
		for _, k := range keys {
			if v := full.(ast.Object).Get(ast.StringTerm(k)); v != nil {
				want.Insert(ast.StringTerm(k), v)
			}
		}
		if got.Compare(want) != 0 {
			t.Errorf("jsonFields(%v) = %v, want %v", keys, got, want)
		}
	}
	for _, bad := range []string{`{"a":1,"b":}`, `{"a":1,"b":[1 2]}`, `{"b":{"c":1,}}`, `{"a":1}x`, `{"b":"unterminated}`, `{"b":tru}`, "{\"b\":\"ctl\x01\"}", `{"b":-}`, `{"b":"\q"}`, `{"b":01}`} {
		if _, err := jsonFields([]byte(bad), []string{"a"}, nil); err == nil {
			t.Errorf("jsonFields(%q) accepted malformed JSON", bad)
		}
	}
	if v, err := jsonFields([]byte(`[1,2]`), []string{"a"}, nil); err != nil || v.Compare(ast.NewObject()) != 0 {
		t.Errorf("jsonFields of an array = %v, %v; want {}", v, err)
	}
}

func TestFindPII(t *testing.T) {
	tests := []struct {
		text string
		want map[string][]string
	}{
		{"nothing to see, call 555 times at 10:30", nil},
		{"gpt(4 and a+1 are not numbers", nil},
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
		{"model only", `deny contains 1 if input.request.model == "x"`, needs{fields: fModel}},
		{"small fields", `deny contains 1 if { input.customer == "x"; input.metadata.team == "y"; input.request.provider == "openai"; input.phase == "request" }`,
			needs{fields: fCustomer | fMetadata | fProvider}},
		{"body fields", "deny contains 1 if input.request.body.max_tokens > 1\ndeny contains 2 if input.request.body.generationConfig.maxOutputTokens > 1",
			needs{bodyKeys: []string{"generationConfig", "max_tokens"}}},
		{"body as a whole", "deny contains 1 if input.request.body.max_tokens > 1\ndeny contains 2 if object.get(input.request.body, \"n\", 0) > 1", needs{body: true}},
		{"body by a variable key", `deny contains 1 if { some k; input.request.body[k] }`, needs{body: true}},
		{"texts and usage", "deny contains 1 if {\n some t in input.request.texts\n t.text == \"x\"\n input.usage.day.total_tokens > 1\n}", needs{texts: true, usage: true}},
		{"whole request", `deny contains 1 if { r := input.request; r.x }`, needs{fields: allFields &^ (fCustomer | fMetadata), body: true, texts: true, prompt: true}},
		{"input as a whole", `deny contains 1 if { x := input; x.y }`, allNeeds()},
		{"dynamic key", `deny contains 1 if { some k; input[k] }`, allNeeds()},
		{"response text", `deny contains 1 if contains(input.response.text, "x")`, needs{respText: true}},
		{"prompt", `deny contains 1 if contains(input.request.prompt, "x")`, needs{prompt: true}},
		{"headers", `deny contains 1 if input.headers["x-a"]`, needs{headers: true}},
		{"through a function and a rule", "deny contains 1 if f(1)\nf(x) := y if { y := x + u }\nu := input.usage.day.total_tokens", needs{usage: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ast.MustParseModule("package p\n\n" + tt.src)
			c := ast.NewCompiler()
			c.Compile(map[string]*ast.Module{"p.rego": m})
			if c.Failed() {
				t.Fatal(c.Errors)
			}
			if got := analyze(c, "data.p"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("needs = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNeedsFollowQueries checks that only the rules a query can reach
// count: one guardrail's query does not build the input another reads.
func TestNeedsFollowQueries(t *testing.T) {
	mods := map[string]*ast.Module{
		"a.rego":   ast.MustParseModule("package g.a\n\ndeny contains 1 if input.request.model == \"x\"\n"),
		"b.rego":   ast.MustParseModule("package g.b\n\ndeny contains 1 if { some t in input.request.texts }\n"),
		"c.rego":   ast.MustParseModule("package g.c\n\ndeny contains 1 if data.lib.over\n"),
		"lib.rego": ast.MustParseModule("package lib\n\nover if input.usage.day.total_tokens > 1\n"),
		"all.rego": ast.MustParseModule("package all\n\ndeny contains m if { some name; some m in data.g[name].deny }\n"),
	}
	c := ast.NewCompiler()
	c.Compile(mods)
	if c.Failed() {
		t.Fatal(c.Errors)
	}
	tests := []struct {
		queries []string
		want    needs
	}{
		{[]string{"data.g.a"}, needs{fields: fModel}},
		{[]string{"data.g.b.deny"}, needs{texts: true}},
		{[]string{"data.g.c"}, needs{usage: true}},
		{[]string{"data.g.a", "data.g.c"}, needs{fields: fModel, usage: true}},
		{[]string{"data.all"}, needs{fields: fModel, texts: true, usage: true}},
		{[]string{"data"}, needs{fields: fModel, texts: true, usage: true}},
	}
	for _, tt := range tests {
		if got := analyze(c, tt.queries...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("analyze(%v) = %+v, want %+v", tt.queries, got, tt.want)
		}
	}
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestJoinTexts checks input.request.prompt against what lib.prompt joins
// from the texts when an input lacks it.
func TestJoinTexts(t *testing.T) {
	for _, texts := range [][]string{nil, {"one"}, {"a", "", "b\nc"}, {"", ""}} {
		parts := make([]textPart, len(texts))
		for i, s := range texts {
			parts[i] = textPart{text: s}
		}
		if got, want := joinTexts(parts), strings.Join(texts, "\n"); got != want {
			t.Errorf("joinTexts(%q) = %q, want %q", texts, got, want)
		}
	}
}

// TestJSONFieldsShared checks that the objects of kept fields shared
// between calls (keptObject) are the objects the fields parse to: each
// body three times (a miss, then hits), against each field parsed alone.
func TestJSONFieldsShared(t *testing.T) {
	long := `"` + strings.Repeat("x", 300) + `"`
	docs := []string{
		`{"max_tokens":100,"model":"m"}`, `{"max_tokens":100, "model":"m"}`, `{"model":"m","max_tokens":100}`,
		`{"max_tokens":101,"model":"m"}`, `{"max_tokens":100,"max_tokens":5}`, `{"m\u006fdel":"esc","max_tokens":1}`,
		`{"max_tokens":01}`, `{"model":` + long + `}`, `{"model":{"a":[1,{"b":"c"}]},"x":1}`, `{"x":1}`, `{}`,
		`{"model":"a\"b","max_tokens":-1.5e3}`, `{"model":null,"max_tokens":true}`,
	}
	keys := []string{"max_tokens", "model"}
	for _, doc := range docs {
		var want ast.Value
		var wantErr error
		for round := range 3 {
			got, err := jsonFields([]byte(doc), keys, nil)
			if round == 0 {
				want, wantErr = got, err
				// Each field parsed alone, as jsonFields did before sharing.
				p := jsonParser{b: []byte(doc)}
				ref := ast.NewObject()
				// (A key given twice is left to the rounds' comparison:
				// the object holds both, as it did before sharing.)
				if o, err := p.object(1); err == nil && !strings.Contains(doc, `"max_tokens":100,"max_tokens"`) {
					for _, k := range keys {
						if v := o.Value.(ast.Object).Get(ast.StringTerm(k)); v != nil {
							ref.Insert(ast.StringTerm(k), v)
						}
					}
					if err != nil || got.Compare(ref) != 0 {
						t.Errorf("jsonFields(%s) = %v, %v; want %v", doc, got, err, ref)
					}
				}
				continue
			}
			if (err == nil) != (wantErr == nil) || err == nil && got.Compare(want) != 0 {
				t.Errorf("jsonFields(%s), call %d = %v, %v; want %v, %v", doc, round+1, got, err, want, wantErr)
			}
		}
	}
}
