// Package gcfloor keeps the garbage collector's heap goal at least a fixed
// headroom above the live heap, by raising GOGC while the live heap is
// small.
//
// Why: with GOGC=100 a gateway whose live heap is a few MB collects several
// times a second under load, and on a 2-core machine each collection's
// mark worker takes the core the client, the upstream and the gateway
// otherwise share: the calls in flight wait, and that is the c=1 p99
// (docs/benchmarks.md, Load results). A higher GOGC alone would multiply a
// large live heap too (1,000 open streams); a floor adds at most headroom
// bytes, whatever the live heap.
package gcfloor

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// maxPercent bounds the GOGC it sets, for a live heap near zero.
const maxPercent = 2000

// Percent is the GOGC that makes the heap goal live + headroom, and never
// less than 100 (Go's default: the floor only ever adds).
func Percent(live, headroom uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := (headroom*100 + live - 1) / live
	return int(min(max(p, 100), maxPercent))
}

// Interval is how often a server's floor reads the live heap again.
const Interval = time.Second / 4

// ForServer starts the floor a server's config asks for: none for a
// headroom of 0, and none when GOGC is set in the environment, the
// operator's choice, which it returns so that the caller can say so.
func ForServer(headroom int64) (stop func(), envGOGC string) {
	if headroom <= 0 {
		return func() {}, ""
	}
	if v := os.Getenv("GOGC"); v != "" {
		return func() {}, v
	}
	return Start(uint64(headroom), Interval), ""
}

// Start adjusts GOGC every interval from the live heap the last collection
// measured, until stop is called, which puts GOGC back as it found it.
func Start(headroom uint64, interval time.Duration) (stop func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	finished := make(chan struct{})
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(gogc)
	before := int(gogc[0].Value.Uint64())
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		last := before
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				if p := Percent(sample[0].Value.Uint64(), headroom); p != last {
					debug.SetGCPercent(p)
					last = p
				}
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetGCPercent(before)
	}
}
