package config

import (
	"strconv"
	"strings"
)

// suggest returns ` (did you mean "x"?)` for the candidate closest to key,
// or "" when none is close enough to be a likely typo.
func suggest(key string, candidates []string) string {
	best, bestDist := "", -1
	k := strings.ToLower(key)
	for _, c := range candidates {
		d := editDistance(k, c)
		if len(k) >= 3 && subsequence(k, c) || len(c) >= 3 && strings.Contains(k, c) {
			d = min(d, 2) // "cfg" for "config", "log_level" for "level"
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(2, len(key)/3) {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// subsequence reports whether the bytes of a appear in b in order.
func subsequence(a, b string) bool {
	for i := 0; i < len(b) && a != ""; i++ {
		if b[i] == a[0] {
			a = a[1:]
		}
	}
	return a == ""
}
