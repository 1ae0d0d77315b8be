package core

import (
	"strconv"
	"sync"
	"testing"
)

func TestMemoBuildsOnceAndFollowsTheKey(t *testing.T) {
	var m Memo[string]
	builds := 0
	build := func(k string) string { builds++; return "v:" + k }
	for _, tc := range []struct {
		key, want string
		builds    int
	}{{"a", "v:a", 1}, {"a", "v:a", 1}, {"b", "v:b", 2}, {"a", "v:a", 3}} {
		if got := m.Get(tc.key, build); got != tc.want || builds != tc.builds {
			t.Fatalf("Get(%q) = %q after %d builds; want %q after %d", tc.key, got, builds, tc.want, tc.builds)
		}
	}
}

// TestMemoConcurrentKeys: under -race, goroutines with different keys
// always get their own key's value.
func TestMemoConcurrentKeys(t *testing.T) {
	var m Memo[[]string]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			key := strconv.Itoa(g)
			for range 1000 {
				if v := m.Get(key, HeaderValue); len(v) != 1 || v[0] != key {
					t.Errorf("Get(%q) = %q", key, v)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestHeaderValueAppendCopies: appending to a shared value never writes
// into the array other calls see.
func TestHeaderValueAppendCopies(t *testing.T) {
	v := HeaderValue("x")
	w := append(v, "y")
	w[0] = "changed"
	if v[0] != "x" {
		t.Fatalf("the shared value changed to %q", v[0])
	}
}
