package openai_test

import (
	"net/http"
	"testing"

	"github.com/tollgate-dev/tollgate/providers/openai"
)

// TestAuthorizeAlternatingKeys: two upstreams with their own keys,
// called in turn, each get their own bearer token (the header value is
// memoized per key).
func TestAuthorizeAlternatingKeys(t *testing.T) {
	for _, key := range []string{"sk-a", "sk-b", "sk-a", "sk-a", "sk-b"} {
		h := http.Header{}
		openai.New().Authorize(h, key)
		if got := h.Get("Authorization"); got != "Bearer "+key {
			t.Fatalf("Authorization = %q, want Bearer %s", got, key)
		}
	}
}
