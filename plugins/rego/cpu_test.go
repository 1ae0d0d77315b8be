package rego

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports the process's CPU time per op (user + system, GC
// included) beside the wall time: on a shared machine the wall time of a
// benchmark swings with the neighbours' load, the CPU it burns much less.
type cpuMeter struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{cpuNow()} }

func (m cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-m.start)/float64(b.N)/1000, "cpu-µs/op")
}
