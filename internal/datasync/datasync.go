// Package datasync makes a file's written data durable (fdatasync) without
// holding a Go processor while the disk works.
//
// Why: a system call keeps its goroutine's processor (P) until it returns,
// unless the runtime's monitor takes the P back, and it does so only after
// seeing the same call on two of its ticks: 10–20 ms apart while the
// gateway is busy. An fdatasync takes 1–3 ms on the disk of
// docs/benchmarks.md, so with one processor (GOMAXPROCS=1: a one-CPU
// container, or the gateway at low load) every call that arrives during
// one waits for it. That was the c=1 p99 of durable tracking.
//
// On Linux the sync is submitted to io_uring and its completion awaited on
// an eventfd in Go's network poller: the goroutine parks, the processor
// serves calls, the kernel's workers sync. Where io_uring cannot be used
// (another OS, a kernel before 5.6, io_uring disabled by sysctl, or a
// seccomp profile that refuses it, as container runtimes' defaults do),
// Fdatasync makes the plain system call, as before. [Mode] says which.
package datasync

import (
	"os"
	"sync"
)

// defaultRing is the process's ring, set up at the first sync.
var defaultRing = sync.OnceValues(newRing)

// Fdatasync makes the data written to f durable, as fdatasync(2) does:
// when it returns nil, the data and the metadata needed to read it back
// (the file's size) are on the disk. It parks the calling goroutine, not
// its processor, while io_uring is available.
func Fdatasync(f *os.File) error {
	r, err := defaultRing()
	if err != nil {
		return blocking(f)
	}
	return r.fdatasync(f)
}

// Mode reports how Fdatasync waits: "io_uring", or "system call" with the
// reason io_uring could not be used, at start-up or since.
func Mode() (mode string, reason error) { return modeOf(defaultRing()) }

func modeOf(r *ring, err error) (string, error) {
	if err == nil {
		err = r.brokenBy()
	}
	if err != nil {
		return "system call", err
	}
	return "io_uring", nil
}
