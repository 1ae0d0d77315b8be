// Package benchcpu reports a benchmark's CPU time per operation next to its
// wall time. On a shared machine wall time grows with every other process's
// load; the CPU time this process spent per operation (all its threads,
// garbage collection included) does not, so it is the figure to compare
// across runs.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Start begins measuring; call the returned function when the loop is done
// (it reports cpu-ns/op).
func Start(b *testing.B) func() {
	before := used()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(used()-before)/float64(b.N), "cpu-ns/op")
		}
	}
}

func used() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
