package jsonscan

import (
	"math/bits"
	"strings"
)

// Fields calls fn with each top-level field of a JSON object: its name and
// its raw value. A name with escapes is decoded as encoding/json decodes it
// (invalid UTF-8 becomes U+FFFD); one without is passed as written. It
// skips strings with a vectorized search for their closing quote. It does
// not validate values (use Valid first when the text is untrusted); ok is
// false when s is not an object or is cut short, and fn may have been
// called by then.
func Fields(s string, fn func(name, raw string)) (ok bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return true
	}
	for i < len(s) {
		if s[i] != '"' {
			return false
		}
		end := skipString(s, i)
		if end < 0 {
			return false
		}
		name := s[i+1 : end-1]
		if strings.IndexByte(name, '\\') >= 0 {
			if name, ok = Unquote(s[i:end]); !ok {
				return false
			}
		}
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		end = skipValue(s, i)
		if end < 0 {
			return false
		}
		fn(name, s[i:end])
		i = skipSpace(s, end)
		if i >= len(s) {
			return false
		}
		if s[i] == '}' {
			return true
		}
		if s[i] != ',' {
			return false
		}
		i = skipSpace(s, i+1)
	}
	return false
}

// Field returns the raw value of the top-level field name of the object s,
// and whether it is there. The last of duplicate names wins, as in
// encoding/json.
func Field(s, name string) (raw string, found bool) {
	Fields(s, func(n, r string) {
		if n == name {
			raw, found = r, true
		}
	})
	return raw, found
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at s[i] ('"'),
// or -1 if it does not end. Most strings in an API's JSON are short keys
// and values: their first 32 bytes are searched a word at a time, cheaper
// than a call to strings.IndexByte; a longer text goes to IndexByte's
// vector search.
func skipString(s string, i int) int {
	i++
	for w := 0; w < 4 && i+8 <= len(s); w++ {
		m := quoteOrBackslash(load64(s, i))
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) / 8
		if s[i] == '"' {
			return i + 1
		}
		i += 2 // a backslash and the byte it escapes
	}
	for i < len(s) {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
	return -1
}

// load64 reads s[i:i+8] as a little-endian word (one load on amd64/arm64).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// quoteOrBackslash has the high bit set in the lowest byte of x that is a
// quote or a backslash (bits above it may be set too), as special does.
func quoteOrBackslash(x uint64) uint64 {
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote | (slash-ones)&^slash) & high
}

// skipValue returns the index after the value starting at s[i], or -1.
func skipValue(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i = skipString(s, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(s) && !isDelimiter(s[i]) {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}
