package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRefusesABadUpstream: the relay only loads this machine and says
// what was wrong with --upstream.
func TestRefusesABadUpstream(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"", "want a URL such as"},
		{"not a url", "want a URL such as"},
		{"http://192.0.2.1:80", "is not a loopback address"},
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"--upstream", tc.arg}, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
			t.Errorf("--upstream %q: exit %d, stderr %q; want 2 and %q", tc.arg, code, errb.String(), tc.want)
		}
	}
}
