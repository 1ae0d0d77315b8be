package rego

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// containsAny is tollgate.strings.contains_any: the words of a list that
// occur in a text, ignoring case. It passes over the text once, trying at
// each byte only the words that start with it (the injection guardrail's
// shortcut checks ~17 words on every call: a search per word was 17
// passes, and strings.ToLower a copy of the prompt).
func containsAny(_ rego.BuiltinContext, t, words *ast.Term) (*ast.Term, error) {
	s, ok := t.Value.(ast.String)
	if !ok {
		return nil, nil
	}
	var termBuf [maxOnePassWords]*ast.Term
	var lowerBuf [maxOnePassWords]string
	terms, lowered := termBuf[:0], lowerBuf[:0]
	switch x := words.Value.(type) {
	case ast.Set:
		for _, w := range x.Slice() {
			terms, lowered = addWord(terms, lowered, w)
		}
	case *ast.Array:
		if l := loweredLists.get(x); l != nil {
			terms, lowered = l.terms, l.lowered
			break
		}
		for i := range x.Len() {
			terms, lowered = addWord(terms, lowered, x.Elem(i))
		}
		loweredLists.miss(x, terms, lowered)
	}
	if len(terms) == 0 {
		return emptySet, nil
	}
	var foundBuf [maxOnePassWords]bool
	found := foundBuf[:0]
	switch {
	case len(terms) > maxOnePassWords:
		text := strings.ToLower(string(s))
		for _, w := range lowered {
			found = append(found, strings.Contains(text, w))
		}
	case isASCII(string(s)):
		found = findWords(string(s), lowered, foundBuf[:len(terms)], true)
	default: // Unicode's lower case is strings.ToLower's, not a byte's
		found = findWords(strings.ToLower(string(s)), lowered, foundBuf[:len(terms)], false)
	}
	var out ast.Set
	for i, w := range terms {
		if found[i] {
			if out == nil {
				out = ast.NewSet()
			}
			out.Add(w)
		}
	}
	if out == nil {
		return emptySet, nil // most prompts: nothing to build
	}
	return ast.NewTerm(out), nil
}

// loweredLists keeps the words of the lists contains_any is given again
// and again, lowered: the injection guardrail gives the same constant
// list (one array, built when the policy is loaded) on every call, and
// lowering its words was a third of the built-in's time. A list is known
// by its address (OPA's arrays are not changed once built: an append
// makes a new one); one is kept the second time in a row it is seen, so
// that lists built per call cost nothing but a pointer store.
var loweredLists wordLists

type wordLists struct {
	seen atomic.Pointer[ast.Array] // the last list not kept
	kept [4]atomic.Pointer[wordList]
	next atomic.Uint32
}

type wordList struct {
	list    *ast.Array
	terms   []*ast.Term
	lowered []string
}

func (w *wordLists) get(list *ast.Array) *wordList {
	for i := range w.kept {
		if l := w.kept[i].Load(); l != nil && l.list == list {
			return l
		}
	}
	return nil
}

// miss records a list that was not kept, and keeps it (a copy of its
// words) if it was the last one missed too.
func (w *wordLists) miss(list *ast.Array, terms []*ast.Term, lowered []string) {
	if w.seen.Swap(list) != list || len(terms) > maxOnePassWords {
		return
	}
	l := &wordList{list: list, terms: slices.Clone(terms), lowered: slices.Clone(lowered)}
	w.kept[w.next.Add(1)%uint32(len(w.kept))].Store(l)
}

// addWord adds a word of the list, and its lower case, if it is a string
// and not empty.
func addWord(terms []*ast.Term, lowered []string, w *ast.Term) ([]*ast.Term, []string) {
	if ws, ok := w.Value.(ast.String); ok && ws != "" {
		return append(terms, w), append(lowered, strings.ToLower(string(ws)))
	}
	return terms, lowered
}

// maxOnePassWords bounds the words findWords takes (its tables are on the
// stack); a longer list is searched word by word.
const maxOnePassWords = 64

// findWords sets found[i] when text contains words[i] (non-empty), as
// strings.Contains would, in one pass: the words are chained by their
// first byte, and at each byte of the text only its chain is tried, and
// only if some word of the chain has the next byte for its second (most
// letters of a prompt start a trigger word; few go on as one). With fold,
// ASCII text is compared in lower case, without a lowered copy.
func findWords(text string, words []string, found []bool, fold bool) []bool {
	var head [256]uint8 // 1 + the first word starting with the byte; 0: none
	var next [maxOnePassWords]uint8
	for i := len(words) - 1; i >= 0; i-- {
		c := words[i][0]
		next[i], head[c] = head[c], uint8(i+1)
	}
	// seconds[head[c]] has bit b%64 set when a word starting with c has
	// b for its second byte; every bit when one is that byte alone.
	var seconds [maxOnePassWords + 1]uint64
	for _, w := range words {
		h := head[w[0]]
		if len(w) == 1 {
			seconds[h] = ^uint64(0)
		} else {
			seconds[h] |= 1 << (w[1] & 63)
		}
	}
	left := len(words)
	for p := 0; p < len(text) && left > 0; p++ {
		c := text[p]
		if fold {
			c = lowerASCII(c)
		}
		j := head[c]
		if j == 0 {
			continue
		}
		if p+1 < len(text) {
			d := text[p+1]
			if fold {
				d = lowerASCII(d)
			}
			if seconds[j]&(1<<(d&63)) == 0 {
				continue
			}
		}
		for ; j != 0; j = next[j-1] {
			if i := j - 1; !found[i] && hasPrefix(text[p:], words[i], fold) {
				found[i] = true
				left--
			}
		}
	}
	return found
}

func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
