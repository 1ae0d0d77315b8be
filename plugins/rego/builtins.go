package rego

import (
	"math/big"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// tollgate's own built-ins. Go's regexp has no DFA: a pattern with many
// alternatives or bounded repeats runs its NFA over every byte, and the
// PII and prompt-injection patterns cost tens of microseconds per prompt
// that way. These do the same work in one linear pass, so a guardrail can
// scan every call. They are available to every rego stage and to
// `tollgate policy test`; a policy that must also run under plain `opa`
// can keep to regex.* instead.
var (
	piiFindDecl = &rego.Function{
		Name: "tollgate.pii.find",
		Description: "Finds personal data in a text: email addresses, phone numbers, credit card numbers " +
			"(Luhn-checked), US social security numbers and IBANs (check digits verified). " +
			"Returns {kind: [matches]} with only the kinds found.",
		Decl:    types.NewFunction(types.Args(types.Named("text", types.S)), types.Named("found", types.NewObject(nil, types.NewDynamicProperty(types.S, types.NewArray(nil, types.S))))),
		Memoize: true,
	}
	containsAnyDecl = &rego.Function{
		Name:        "tollgate.strings.contains_any",
		Description: "Returns the words of a list that occur in a text, ignoring case.",
		Decl: types.NewFunction(types.Args(types.Named("text", types.S), types.Named("words", types.NewAny(types.NewSet(types.S), types.NewArray(nil, types.S)))),
			types.Named("found", types.NewSet(types.S))),
		Memoize: true,
	}
)

// builtinOptions registers the built-ins with a query.
func builtinOptions() []func(*rego.Rego) {
	return []func(*rego.Rego){rego.Function1(piiFindDecl, piiFind), rego.Function2(containsAnyDecl, containsAny)}
}

// builtinDecls declares the built-ins to the compiler.
func builtinDecls() []*ast.Builtin {
	return []*ast.Builtin{
		{Name: piiFindDecl.Name, Description: piiFindDecl.Description, Decl: piiFindDecl.Decl},
		{Name: containsAnyDecl.Name, Description: containsAnyDecl.Description, Decl: containsAnyDecl.Decl},
	}
}

// tollgateBuiltins are the built-ins as the evaluator calls them.
var tollgateBuiltins = map[string]*topdown.Builtin{
	piiFindDecl.Name: {Decl: builtinDecls()[0], Func: func(bctx topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
		t, err := piiFind(bctx, ops[0])
		return emit(iter, t, err)
	}},
	containsAnyDecl.Name: {Decl: builtinDecls()[1], Func: func(bctx topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
		t, err := containsAny(bctx, ops[0], ops[1])
		return emit(iter, t, err)
	}},
}

// emit hands a built-in's result on; nil is undefined.
func emit(iter func(*ast.Term) error, t *ast.Term, err error) error {
	if err != nil || t == nil {
		return err
	}
	return iter(t)
}

// testerBuiltins registers the built-ins with OPA's test runner.
func testerBuiltins() []*tester.Builtin {
	decls := builtinDecls()
	return []*tester.Builtin{
		{Decl: decls[0], Func: rego.Function1(piiFindDecl, piiFind)},
		{Decl: decls[1], Func: rego.Function2(containsAnyDecl, containsAny)},
	}
}

func piiFind(_ rego.BuiltinContext, t *ast.Term) (*ast.Term, error) {
	s, ok := t.Value.(ast.String)
	if !ok {
		return nil, nil
	}
	found := findPII(string(s))
	if len(found) == 0 {
		return emptyObject, nil
	}
	items := make([][2]*ast.Term, 0, len(found))
	for kind, ms := range found {
		terms := make([]*ast.Term, len(ms))
		for i, m := range ms {
			terms[i] = ast.StringTerm(m)
		}
		items = append(items, ast.Item(ast.StringTerm(kind), ast.ArrayTerm(terms...)))
	}
	return ast.ObjectTerm(items...), nil
}

// emptySet is the shared result of a scan that found nothing. Terms are
// immutable once built.
var emptySet = ast.SetTerm()

// findPII scans text once and returns the personal data it holds, by kind.
func findPII(text string) map[string][]string {
	var found map[string][]string
	add := func(kind, m string) {
		if found == nil {
			found = map[string][]string{}
		}
		found[kind] = append(found[kind], m)
	}
	for i := 0; i < len(text); {
		// Bytes that can start nothing (lower-case letters, spaces,
		// punctuation: most of a prompt) are passed over in a tight loop.
		for i < len(text) && !piiStart[text[i]] {
			i++
		}
		if i == len(text) {
			break
		}
		c := text[i]
		switch {
		case c == '@':
			if m, ok := emailAt(text, i); ok {
				add("email", m)
			}
			i++
		case isDigit(c) || (c == '+' || c == '(') && i+1 < len(text) && isDigit(text[i+1]):
			if i > 0 && isWord(text[i-1]) {
				i = max(skipWord(text, i), i+1) // a '+' or '(' is not a word: step past it
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

// piiStart marks the bytes findPII looks at: '@', digits, '+' and '('
// (a phone number's start), upper-case letters (an IBAN's). Any other
// byte it steps over.
var piiStart = func() (t [256]bool) {
	for _, c := range []byte("@+(0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t[c] = true
	}
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isWord(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || isUpper(c) || c == '_'
}

func skipWord(s string, i int) int {
	for i < len(s) && isWord(s[i]) {
		i++
	}
	return i
}

// emailAt reads the address around the @ at i.
func emailAt(s string, at int) (string, bool) {
	local := func(c byte) bool { return isWord(c) || strings.IndexByte(".%+-", c) >= 0 }
	domain := func(c byte) bool { return isWord(c) && c != '_' || c == '-' || c == '.' }
	start := at
	for start > 0 && local(s[start-1]) {
		start--
	}
	end := at + 1
	for end < len(s) && domain(s[end]) {
		end++
	}
	for end > at+1 && s[end-1] == '.' {
		end--
	}
	if start == at || end == at+1 {
		return "", false
	}
	host := s[at+1 : end]
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 || len(host)-dot-1 < 2 {
		return "", false
	}
	for _, c := range []byte(host[dot+1:]) {
		if !(c >= 'a' && c <= 'z' || isUpper(c)) {
			return "", false
		}
	}
	return s[start:end], true
}

// numberRun returns the end of a run of digits joined by single
// separators (space, dash, dot, parentheses) that could be one number.
func numberRun(s string, i int) int {
	end := i
	if s[i] == '+' || s[i] == '(' {
		i++
	}
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			i++
			end = i
		case c == ')' || (c == ' ' || c == '-' || c == '.') && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '('):
			i++
		case c == '(' && i+1 < len(s) && isDigit(s[i+1]):
			i++
		default:
			if isWord(c) {
				return i + 1 // a digit run glued to letters is not a number
			}
			return end
		}
	}
	return end
}

// classifyNumber says what kind of personal data a number run is, if any.
func classifyNumber(run string) string {
	var digits []byte
	seps := 0
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case isDigit(c):
			digits = append(digits, c)
		case isWord(c):
			return ""
		default:
			seps++
		}
	}
	n := len(digits)
	switch {
	case n == 9 && validSSN(run):
		return "ssn"
	case n >= 13 && n <= 19 && luhn(digits) && !strings.ContainsAny(run, "()+."):
		return "credit_card"
	case run[0] == '+' && n >= 10 && n <= 15:
		return "phone"
	case (n == 10 || n == 11 && digits[0] == '1') && seps >= 2:
		return "phone"
	}
	return ""
}

// validSSN checks ddd-dd-dddd and leaves out numbers never issued.
func validSSN(s string) bool {
	if len(s) != 11 || s[3] != '-' || s[6] != '-' {
		return false
	}
	area, group, serial := s[:3], s[4:6], s[7:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// luhn checks a card number's check digit.
func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		x := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			if x *= 2; x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// ibanAt reads an IBAN starting at i: two letters, two check digits, and
// 11 to 30 letters and digits, in groups separated by single spaces; the
// check digits must verify (ISO 13616, mod 97).
func ibanAt(s string, i int) (string, int, bool) {
	if i+4 > len(s) || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return "", 0, false
	}
	var b []byte
	end := i
	for j := i; j < len(s) && len(b) < 34; j++ {
		c := s[j]
		if isDigit(c) || isUpper(c) {
			b = append(b, c)
			end = j + 1
			continue
		}
		if c == ' ' && j+1 < len(s) && (isDigit(s[j+1]) || isUpper(s[j+1])) {
			continue
		}
		break
	}
	if end < len(s) && isWord(s[end]) || len(b) < 15 || len(b) > 34 {
		return "", 0, false
	}
	num := make([]byte, 0, 2*len(b))
	for _, c := range append(b[4:], b[:4]...) {
		if isDigit(c) {
			num = append(num, c)
		} else {
			v := int(c-'A') + 10
			num = append(num, byte('0'+v/10), byte('0'+v%10))
		}
	}
	n, ok := new(big.Int).SetString(string(num), 10)
	if !ok || new(big.Int).Mod(n, big.NewInt(97)).Int64() != 1 {
		return "", 0, false
	}
	return s[i:end], end, true
}
