package jsonscan

// Elements calls fn with the raw text of each element of the JSON array s,
// in order, without decoding any, and reports whether s is a whole array.
// It stops at the first element it cannot skip: fn has then seen the
// elements before it, the whole of an array that was cut off. Like
// [Fields], it checks the array's shape, not that each element is valid.
func Elements(s string, fn func(raw string)) (ok bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '[' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return true
	}
	for i < len(s) {
		end := skipValue(s, i)
		if end < 0 {
			return false
		}
		fn(s[i:end])
		i = skipSpace(s, end)
		if i >= len(s) {
			return false
		}
		if s[i] == ']' {
			return true
		}
		if s[i] != ',' {
			return false
		}
		i = skipSpace(s, i+1)
	}
	return false
}
