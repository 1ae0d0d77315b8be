// Package benchcpu reports a benchmark's CPU time per operation next to its
// wall time. On a shared machine wall time grows with every other process's
// load; the CPU time this process spent per operation (all its threads,
// garbage collection included) does not, so it is the figure to compare
// across runs.
package benchcpu

import "testing"

// Start begins measuring; call the returned function when the loop is done
// (it reports cpu-ns/op where the system can tell a process's CPU time).
func Start(b *testing.B) func() {
	before, ok := Used()
	return func() {
		after, ok2 := Used()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(after-before)/float64(b.N), "cpu-ns/op")
		}
	}
}
