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

// maxPercent bounds the GOGC it sets.
const maxPercent = 2000

// minHeap is the runtime's heap goal floor at GOGC=100 (4 MiB); it scales
// with GOGC, so a raised GOGC raises it too.
const minHeap = 4 << 20

// Percent is the GOGC that puts the heap goal at live + headroom, and
// never less than 100 (Go's default: the floor only ever adds). scan is
// the stacks and globals the collector scans: the runtime's goal is
//
//	max(live + (live+scan)*GOGC/100, minHeap*GOGC/100)
//
// so both terms must stay within live + headroom. The second matters for
// the small heaps the floor is for: on live alone, a 2 MB heap with 6 MiB
// of headroom got GOGC 300 and a 12 MiB goal, and no live heap measured
// yet (before the first collection) got the 2000 cap and an 80 MiB goal.
func Percent(live, scan, headroom uint64) int {
	p := uint64(maxPercent)
	if live+scan > 0 {
		p = headroom * 100 / (live + scan)
	}
	p = min(p, (live+headroom)*100/minHeap)
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
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
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
				if p := Percent(sample[0].Value.Uint64(), scanned(sample[1:]), headroom); p != last {
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

// scanned sums the samples this Go version has.
func scanned(s []metrics.Sample) uint64 {
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}
