package jsonscan

import "strings"

// LastField returns what Field returns, read from the end when it can:
// providers put an answer's usage after its text, so only the tail after
// the last "name" key is read when that key is a field of the top-level
// object — its quote unescaped, followed by a colon, and its value followed
// by fields and one closing brace to the end. Otherwise (the name only in
// a string or a nested object, a tail that does not parse) it walks the
// object as Field does. On well-formed JSON the two agree (FuzzLastField);
// on malformed JSON LastField may find a field that Field's walk stops
// short of.
func LastField(s, name string) (raw string, found bool) {
	if raw, ok := lastTopLevel(s, name); ok {
		return raw, true
	}
	return Field(s, name)
}

// lastTopLevel finds the value of the last occurrence of name as a key,
// when the text after it shows the key is in the top-level object.
func lastTopLevel(s, name string) (string, bool) {
	// strings.Index is a vector search; LastIndex is a byte loop. Forward
	// from the start to the last match is the faster way to the last one.
	i := -1
	for from := 0; ; {
		j := strings.Index(s[from:], name)
		if j < 0 {
			break
		}
		j += from
		if j > 0 && s[j-1] == '"' && j+len(name) < len(s) && s[j+len(name)] == '"' {
			i = j
		}
		from = j + len(name)
	}
	if i < 0 {
		return "", false
	}
	// An escaped quote is text inside a string: fall back to the walk.
	n := 0
	for j := i - 2; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	if n%2 == 1 {
		return "", false
	}
	j := skipSpace(s, i+len(name)+1)
	if j >= len(s) || s[j] != ':' {
		return "", false // a string value, not a key
	}
	start := skipSpace(s, j+1)
	end := skipValue(s, start)
	if end < 0 {
		return "", false
	}
	for k := skipSpace(s, end); k < len(s); {
		switch s[k] {
		case '}':
			if skipSpace(s, k+1) == len(s) {
				return s[start:end], true
			}
			return "", false
		case ',':
			k = skipSpace(s, k+1)
			if k >= len(s) || s[k] != '"' {
				return "", false
			}
			key := k
			if k = skipString(s, k); k < 0 || strings.IndexByte(s[key:k], '\\') >= 0 {
				return "", false // an escaped key might spell name: let the walk decide
			}
			if k = skipSpace(s, k); k >= len(s) || s[k] != ':' {
				return "", false
			}
			if k = skipValue(s, skipSpace(s, k+1)); k < 0 {
				return "", false
			}
			k = skipSpace(s, k)
		default:
			return "", false
		}
	}
	return "", false
}
