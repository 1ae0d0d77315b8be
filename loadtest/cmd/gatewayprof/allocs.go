package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime/metrics"
	"sync/atomic"
)

// allocCounter counts the calls the gateway serves, so that the bytes the
// process allocated can be given per call: the figure that sets how often
// the collector runs, and with it the tail at low concurrency.
type allocCounter struct {
	next  http.Handler
	calls atomic.Int64
	start [2]uint64 // allocated bytes and collections before the first call
}

func newAllocCounter(next http.Handler) *allocCounter {
	c := &allocCounter{next: next}
	c.start = readAllocs()
	return c
}

func (c *allocCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	c.next.ServeHTTP(w, r)
}

// write puts the figures in path as one line of JSON.
func (c *allocCounter) write(path string) error {
	now := readAllocs()
	n := c.calls.Load()
	bytes, gcs := now[0]-c.start[0], now[1]-c.start[1]
	per := 0.0
	if n > 0 {
		per = float64(bytes) / float64(n)
	}
	return os.WriteFile(path, fmt.Appendf(nil, `{"calls":%d,"alloc_bytes":%d,"bytes_per_call":%.0f,"collections":%d}`+"\n", n, bytes, per, gcs), 0o644)
}

func readAllocs() [2]uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return [2]uint64{s[0].Value.Uint64(), s[1].Value.Uint64()}
}
