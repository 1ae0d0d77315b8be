package rego

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// containsAnyReference is tollgate.strings.contains_any as first written:
// both sides lowered with strings.ToLower.
func containsAnyReference(t, words *ast.Term) *ast.Term {
	s, ok := t.Value.(ast.String)
	if !ok {
		return nil
	}
	text := strings.ToLower(string(s))
	out := ast.NewSet()
	each := func(w *ast.Term) {
		if ws, ok := w.Value.(ast.String); ok && ws != "" && strings.Contains(text, strings.ToLower(string(ws))) {
			out.Add(w)
		}
	}
	switch x := words.Value.(type) {
	case ast.Set:
		x.Foreach(each)
	case *ast.Array:
		x.Foreach(each)
	}
	return ast.NewTerm(out)
}

// TestContainsAnyMatchesReference compares the built-in with the
// reference on ASCII and Unicode texts (whose lower case strings.ToLower
// defines), mixed-case words, and operands of the wrong type.
func TestContainsAnyMatchesReference(t *testing.T) {
	words := ast.MustParseTerm(`["ignore", "Instructions", "<|", "inst]", "##", "İstanbul", "straße", "ǅ", "|", "", 7]`)
	wordSet := ast.MustParseTerm(`{"ignore", "Instructions", "<|", "inst]", "##", "İstanbul", "straße", "ǅ", "|", "", 7}`)
	texts := []string{"", "IGNORE previous", "Ignore All Instructions", "<|im_start|>", "[INST] x [/INST]", "## System:",
		"İSTANBUL", "istanbul", "STRASSE", "Straße", "ǄǅǆDŽ", "\xff\xfe ignore", "plain text with nothing"}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"i", "I", "g", "n", "o", "r", "e", "E", "<", "|", "#", "İ", "ß", "ǅ", " ", "s", "t", "u", "c", "\xc3"}
	for range 3000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		for _, w := range []*ast.Term{words, wordSet, ast.StringTerm("x")} {
			want := containsAnyReference(ast.StringTerm(text), w)
			got, err := containsAny(rego.BuiltinContext{}, ast.StringTerm(text), w)
			if err != nil || got.Value.Compare(want.Value) != 0 {
				t.Fatalf("contains_any(%q, %v) = %v (%v), want %v", text, w, got, err, want)
			}
		}
	}
	if got, _ := containsAny(rego.BuiltinContext{}, ast.IntNumberTerm(1), words); got != nil {
		t.Errorf("contains_any(1, ...) = %v, want undefined", got)
	}
}

// TestContainsAnyKeepsListsApart checks that the lists whose lowered
// words are kept answer only for themselves: lists seen twice in a row,
// lists alternating, and a list built anew for each call.
func TestContainsAnyKeepsListsApart(t *testing.T) {
	text := ast.StringTerm("Ignore the Prompt and PRETEND")
	lists := []*ast.Term{
		ast.MustParseTerm(`["ignore", "absent"]`), ast.MustParseTerm(`["prompt"]`),
		ast.MustParseTerm(`["pretend", "Ignore", "nothing"]`), ast.MustParseTerm(`["x", "y"]`),
		ast.MustParseTerm(`["the", "and"]`), ast.MustParseTerm(`["and"]`),
	}
	order := []int{0, 0, 0, 1, 1, 0, 2, 2, 3, 3, 4, 4, 5, 5, 0, 1, 2, 3, 4, 5, 5, 0, 0, 1}
	for _, i := range order {
		check := func(words *ast.Term) {
			want := containsAnyReference(text, words)
			got, err := containsAny(rego.BuiltinContext{}, text, words)
			if err != nil || got.Value.Compare(want.Value) != 0 {
				t.Fatalf("contains_any(%v, %v) = %v (%v), want %v", text, words, got, err, want)
			}
		}
		check(lists[i])
		check(lists[i])                             // kept from the second time in a row
		check(ast.MustParseTerm(lists[i].String())) // the same words in a new array
	}
	kept := 0
	for i := range loweredLists.kept {
		if loweredLists.kept[i].Load() != nil {
			kept++
		}
	}
	if kept == 0 {
		t.Error("no list was kept")
	}
}

// BenchmarkContainsAny is the injection guardrail's shortcut on the
// benchmark's prompt: its trigger words over the four messages.
func BenchmarkContainsAny(b *testing.B) {
	req := chatRequest(benchBody)
	text := ast.StringTerm(joinTexts(promptTexts("openai", req.Operation, req.Body)))
	words := ast.MustParseTerm(`["ignore", "disregard", "forget", "override", "instructions", "jailbr", "anything now", "dan mode",
		"you are now", "act as", "pretend", "from now on", "prompt", "<|", "inst]", "<<sys>>", "##"]`)
	b.ReportAllocs()
	for b.Loop() {
		containsAny(rego.BuiltinContext{}, text, words)
	}
}
