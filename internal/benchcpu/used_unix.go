//go:build unix

package benchcpu

import (
	"syscall"
	"time"
)

// Used is the CPU time this process has spent, all threads; ok is false
// where the system cannot tell.
func Used() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
