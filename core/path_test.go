package core

import "testing"

// BenchmarkCheckPath is what the path check costs a call whose path is
// clean: the usual case, and every call pays it.
func BenchmarkCheckPath(b *testing.B) {
	for b.Loop() {
		if checkPath("/v1beta/models/gemini-2.5-flash:streamGenerateContent") != nil {
			b.Fatal("refused")
		}
	}
}
