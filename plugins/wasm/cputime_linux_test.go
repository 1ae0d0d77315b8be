package wasm

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used. A benchmark
// locked to its thread reads its own cost with it, unmoved by other
// processes competing for the cores (wall-clock ns/op is not).
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
