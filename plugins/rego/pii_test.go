package rego

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// findPIIReference is findPII's loop as first written, stepping over
// every byte that starts nothing one at a time.
func findPIIReference(text string) map[string][]string {
	var found map[string][]string
	add := func(kind, m string) {
		if found == nil {
			found = map[string][]string{}
		}
		found[kind] = append(found[kind], m)
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '@':
			if m, ok := emailAt(text, i); ok {
				add("email", m)
			}
			i++
		case isDigit(c) || (c == '+' || c == '(') && i+1 < len(text) && isDigit(text[i+1]):
			if i > 0 && isWord(text[i-1]) {
				i = max(skipWord(text, i), i+1)
				continue
			}
			end := numberRun(text, i)
			if kind := classifyNumber(text[i:end]); kind != "" {
				add(kind, strings.TrimSpace(text[i:end]))
			}
			i = max(end, i+1)
		case c >= 'A' && c <= 'Z' && (i == 0 || !isWord(text[i-1])):
			if m, end, ok := ibanAt(text, i); ok {
				add("iban", m)
				i = end
				continue
			}
			i = skipWord(text, i)
		default:
			i++
		}
	}
	return found
}

// TestFindPIIMatchesReference compares findPII with its first loop on
// random texts made of the pieces personal data is made of.
func TestFindPIIMatchesReference(t *testing.T) {
	pieces := []string{"a", "x", "Z", "GB", "82", "DE", "4111", "1", "0", "9", "555", "-", " ", ".", "@", "+", "(", ")", "_",
		"mail", ".com", "jane", "é", "\xff", "WEST", "123-45-6789", "(415) 555-0132", "+44 20 7946 0958", "GB82 WEST 1234 5698 7654 32"}
	r := rand.New(rand.NewPCG(5, 6))
	found := 0
	for range 20000 {
		var b strings.Builder
		for range r.IntN(30) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		text := b.String()
		want := findPIIReference(text)
		if got := findPII(text); !reflect.DeepEqual(got, want) {
			t.Fatalf("findPII(%q) = %q, the reference %q", text, got, want)
		}
		if len(want) > 0 {
			found++
		}
	}
	if found < 1000 {
		t.Errorf("only %d random texts held personal data", found)
	}
}
