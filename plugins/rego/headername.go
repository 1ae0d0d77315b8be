package rego

import (
	"net/textproto"
	"strings"
	"sync"
)

// headerName returns a header name in canonical form, as http.Header.Set
// would key it. A decision sets the same few names on every call
// ("x-tollgate-max-tokens"), and canonicalising a lower-case name
// allocates, so the canonical forms are kept in a small table, shared by
// every call; it starts over when full. The table keeps copies of its
// own: a name may come from the input and point into a request's body.
func headerName(name string) string {
	headerNames.mu.RLock()
	c, ok := headerNames.m[name]
	headerNames.mu.RUnlock()
	if ok {
		return c
	}
	c = textproto.CanonicalMIMEHeaderKey(name)
	if c == name {
		c = strings.Clone(name)
	}
	headerNames.mu.Lock()
	if headerNames.m == nil || len(headerNames.m) >= maxHeaderNames {
		headerNames.m = make(map[string]string, 16)
	}
	headerNames.m[strings.Clone(name)] = c
	headerNames.mu.Unlock()
	return c
}

const maxHeaderNames = 256

var headerNames struct {
	mu sync.RWMutex
	m  map[string]string
}
