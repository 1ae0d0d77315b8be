package pipeline

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// The functions here skim JSON that is known to be valid (checked, or
// written by encoding/json) without decoding it, so that the decoder hands
// each value's raw text on: they do not check it again.

// members calls fn with each key and raw value of obj, a JSON object, in
// order, up to fn's first error, which it returns.
func members(obj []byte, fn func(key string, val []byte) error) error {
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return nil
	}
	for {
		end := skipString(obj, i)
		key := unquote(obj[i:end])
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = skipValue(obj, i)
		if err := fn(key, obj[i:end]); err != nil {
			return err
		}
		i = skipSpace(obj, end)
		if obj[i] == '}' {
			return nil
		}
		i = skipSpace(obj, i+1) // past the comma
	}
}

// elements calls fn with the raw text of each item of arr, a JSON array,
// in order, up to fn's first error, which it returns.
func elements(arr []byte, fn func(item []byte) error) error {
	i := skipSpace(arr, 1)
	if arr[i] == ']' {
		return nil
	}
	for {
		end := skipValue(arr, i)
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if arr[i] == ']' {
			return nil
		}
		i = skipSpace(arr, i+1)
	}
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the string that starts at s[i].
func skipString(s []byte, i int) int {
	for i++; i < len(s); i++ {
		j := bytes.IndexAny(s[i:], `"\`)
		if j < 0 {
			return len(s)
		}
		i += j
		if s[i] == '"' {
			return i + 1
		}
		i++ // the escaped byte
	}
	return len(s)
}

// skipValue returns the end of the value that starts at s[i].
func skipValue(s []byte, i int) int {
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				i = skipString(s, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(s)
	}
	for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
		s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
		i++ // a number, true, false or null
	}
	return i
}

// unquote is the text of raw, a JSON string, as encoding/json decodes it.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	json.Unmarshal(raw, &s) // valid: it cannot fail
	return s
}
