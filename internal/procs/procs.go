// Package procs runs the gateway on one Go processor while its calls come
// one at a time, and on all of them as soon as two overlap.
//
// Why: with one call in flight, a second processor buys no parallelism,
// only hand-offs. Each goroutine a call wakes (the upstream's reader, the
// usage writer) may start another thread on the idle processor, a futex
// wake-up and a context switch on cores the client and the upstream also
// need. On the 2-core machine of docs/benchmarks.md one processor took
// 14–35% off the gateway's p99 at concurrency 1, once the usage file's
// fsyncs no longer held that processor (internal/datasync). Under load the
// processors are needed: one cost 3–8% of the throughput at c=16.
//
// It does not follow where durable syncs are system calls (no io_uring:
// internal/datasync): at one processor each sync would hold it, and the
// calls arriving meanwhile would wait. Measured with io_uring refused,
// following took the c=1 p99 added from +0.80 to +1.52 ms. A ring that
// stops working later is noticed at the end of the period: the follower
// goes back to all processors and stops, saying so in the log.
//
// Going up is immediate: the call that finds another in flight raises
// GOMAXPROCS to the runtime's default (CPUs, or the cgroup's CPU limit).
// Going down waits for a whole period without overlap. Each change stops
// the world for tens of microseconds; under steady load there are none.
package procs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/datasync"
)

// Follower moves GOMAXPROCS between 1 and the runtime's default.
type Follower struct {
	mu         sync.Mutex // serialises changes
	one        atomic.Bool
	overlapped atomic.Bool
	set        func(int) // runtime.GOMAXPROCS; a recorder in tests
	setDefault func()    // runtime.SetDefaultGOMAXPROCS
	log        *slog.Logger
}

// New returns a Follower, at the runtime's default until Run first finds a
// quiet period. It logs to log when it stops following.
func New(log *slog.Logger) *Follower {
	return &Follower{set: func(n int) { runtime.GOMAXPROCS(n) }, setDefault: runtime.SetDefaultGOMAXPROCS, log: log}
}

// Start runs a Follower until ctx ends, with the calls in flight counted
// by active, unless there is nothing to follow: GOMAXPROCS set in the
// environment (the operator's choice; SetDefaultGOMAXPROCS would ignore
// it) or one CPU; or unless one processor would wait for the disk: durable
// syncs are system calls. It returns nil then. mode says which, for a log
// line; log is told if the follower stops later.
func Start(ctx context.Context, period time.Duration, active func() int64, log *slog.Logger) (f *Follower, mode string) {
	n := runtime.GOMAXPROCS(0)
	switch {
	case os.Getenv("GOMAXPROCS") != "":
		return nil, fmt.Sprintf("%d (GOMAXPROCS in the environment)", n)
	case n == 1:
		return nil, "1 (one CPU)"
	case syncsBlock() != nil:
		return nil, fmt.Sprintf("%d (not following the load: fsyncs are system calls, which would hold the one processor)", n)
	}
	f = New(log)
	go f.Run(ctx, period, active)
	return f, fmt.Sprintf("1-%d, following the load", n)
}

// syncsBlock says why durable syncs hold their goroutine's processor (no
// io_uring, or no longer), or returns nil when they park it; tests replace
// it.
var syncsBlock = func() error {
	_, why := datasync.Mode()
	return why
}

// Overlap records that a call started while another was in flight, and
// raises GOMAXPROCS at once if it is at one. It is cheap when nothing
// changes: two atomic loads.
func (f *Follower) Overlap() {
	if !f.overlapped.Load() {
		f.overlapped.Store(true)
	}
	if f.one.Load() {
		f.mu.Lock()
		if f.one.Load() {
			f.raise()
		}
		f.mu.Unlock()
	}
}

// Run lowers GOMAXPROCS to one after each period in which no call
// overlapped another and at most one is in flight (active), until ctx
// ends or syncs stop parking; then it restores the default.
func (f *Follower) Run(ctx context.Context, period time.Duration, active func() int64) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.Overlap()
			return
		case <-t.C:
			if why := syncsBlock(); why != nil {
				f.Overlap()
				if f.log != nil {
					f.log.Warn("the processors no longer follow the load: fsyncs became system calls, which would hold the one processor",
						"procs", runtime.GOMAXPROCS(0), "err", why)
				}
				return
			}
			f.tick(active)
		}
	}
}

// tick ends a period: it lowers GOMAXPROCS to one if no call overlapped
// another during it and at most one is in flight now.
func (f *Follower) tick(active func() int64) {
	if f.overlapped.Swap(false) || f.one.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if active() > 1 || f.overlapped.Load() {
		return
	}
	f.one.Store(true)
	f.set(1)
	// An Overlap that read one before the store above has marked the
	// period overlapped: raise again for it. One that reads one after the
	// store raises it itself (Overlap stores before it loads, as this
	// does), so no overlap is left on one processor.
	if f.overlapped.Load() {
		f.raise()
	}
}

// raise goes back to the runtime's default; f.mu is held.
func (f *Follower) raise() {
	f.setDefault()
	f.one.Store(false)
}

// One reports whether the gateway runs on one processor now.
func (f *Follower) One() bool { return f.one.Load() }

// Yield lets the goroutines the network has readied run before the caller
// goes on, when the process runs on one processor; with more it returns at
// once. Long stretches of background work (the usage writer's commit)
// call it between pieces, so that a call arriving meanwhile waits for one
// piece, not the whole stretch.
//
// runtime.Gosched would not do: the scheduler takes the yielding goroutine
// back from its run queue before it polls the network. A sleep parks it on
// a timer instead, and the scheduler polls the network on its way to
// finding nothing else to run. The sleep is long enough that the timer has
// not fired by then (it is checked first); idle, the poller's resolution
// makes it last up to a millisecond.
func Yield() {
	if runtime.GOMAXPROCS(0) == 1 {
		time.Sleep(yieldSleep)
	}
}

const yieldSleep = 20 * time.Microsecond
