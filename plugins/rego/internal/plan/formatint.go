package plan

import "github.com/open-policy-agent/opa/v1/ast"

// format_int(n, 10) of a whole number written as strconv writes one
// ("1024", "-5") is that text: OPA parses it and writes it back, at four
// allocations for a number past its interned few. The guardrails' headers
// format the same caps and budgets call after call, so the machine keeps
// its last few answers; terms are immutable, and a kept one may be handed
// to many decisions. Anything else (another base, a fraction, an
// exponent, leading zeros, -0, more than 18 digits) goes to OPA's.

// formatted is how many answers of format_int a machine keeps.
const formatted = 4

type formattedInt struct {
	n ast.Number
	t *ast.Term
}

func (m *machine) formatInt(args []*ast.Term) *ast.Term {
	n, ok := args[0].Value.(ast.Number)
	if !ok || !plainInt(string(n)) {
		return nil
	}
	if base, ok := args[1].Value.(ast.Number); !ok || base != "10" {
		return nil
	}
	for _, f := range m.formatted {
		if f.t != nil && f.n == n {
			return f.t
		}
	}
	t := ast.StringTerm(string(n))
	m.formatted[m.nextFormatted] = formattedInt{n, t}
	m.nextFormatted = (m.nextFormatted + 1) % formatted
	return t
}

// plainInt reports whether s is an integer as strconv.FormatInt writes
// it, with at most 18 digits (so it fits in an int64).
func plainInt(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
		if s == "0" {
			return false
		}
	}
	if len(s) == 0 || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
