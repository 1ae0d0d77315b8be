package procs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake records the settings a Follower makes instead of making them.
type fake struct {
	mu    sync.Mutex
	procs int
	log   []int
}

func newFake() (*Follower, *fake) {
	fk := &fake{procs: 2}
	f := &Follower{
		set:        func(n int) { fk.mu.Lock(); fk.procs = n; fk.log = append(fk.log, n); fk.mu.Unlock() },
		setDefault: func() { fk.mu.Lock(); fk.procs = 2; fk.log = append(fk.log, 2); fk.mu.Unlock() },
	}
	return f, fk
}

func (fk *fake) settings() []int {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return append([]int(nil), fk.log...)
}

// waitFor polls cond until it holds; a hang fails the test by its timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

func TestQuietPeriodLowersToOneAndAnOverlapRaisesAgain(t *testing.T) {
	f, fk := newFake()
	var active atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, time.Millisecond, active.Load); close(done) }()

	waitFor(t, "one processor after a quiet period", f.One)
	f.Overlap()
	if f.One() {
		t.Fatal("an overlapping call left the gateway on one processor")
	}
	if got := fk.settings(); len(got) < 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("settings %v, want 1 then the default", got)
	}
	waitFor(t, "one processor again after the next quiet period", f.One)
	cancel()
	<-done
	if f.One() || fk.procs != 2 {
		t.Fatalf("after Run returned: one=%v procs=%d, want the default restored", f.One(), fk.procs)
	}
}

// A period in which calls overlapped, or at whose end two are in flight,
// does not lower it.
func TestStaysUpUnderLoad(t *testing.T) {
	f, fk := newFake()
	idle := func() int64 { return 0 }
	f.Overlap()
	f.tick(idle)                      // overlapped during the period
	f.tick(func() int64 { return 2 }) // two in flight, overlapping before it
	if got := fk.settings(); len(got) != 0 {
		t.Fatalf("settings %v under load, want none", got)
	}
	f.tick(idle)
	if got := fk.settings(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("settings %v after a quiet period, want [1]", got)
	}
	f.tick(idle) // already at one: nothing to do
	f.Overlap()
	f.Overlap() // already up: nothing to do
	if got := fk.settings(); len(got) != 2 || got[1] != 2 {
		t.Fatalf("settings %v, want [1 2]", got)
	}
}

// A call that overlaps just as a quiet period ends, its Overlap reading
// one before tick stores it, must not be left on one processor until the
// next overlap: tick sees the mark and raises again.
func TestAnOverlapAtThePeriodsEndRaisesAgain(t *testing.T) {
	f, fk := newFake()
	set := f.set
	f.set = func(n int) {
		set(n)
		// Overlap's first half, its second having found one still false.
		f.overlapped.Store(true)
	}
	f.tick(func() int64 { return 1 })
	if f.One() || fk.procs != 2 {
		t.Fatalf("after an overlap at the period's end: one=%v procs=%d (settings %v), want the default", f.One(), fk.procs, fk.settings())
	}
}

// The real runtime: GOMAXPROCS goes to 1 and back to the default.
func TestFollowsTheRuntime(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	if def == 1 {
		t.Skip("one CPU: there is nothing to lower")
	}
	t.Cleanup(func() { runtime.SetDefaultGOMAXPROCS() })
	f := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, time.Millisecond, func() int64 { return 0 }); close(done) }()
	waitFor(t, "one processor", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	if !f.One() {
		t.Fatal("GOMAXPROCS is 1 but the Follower does not know it")
	}
	f.Overlap()
	if n := runtime.GOMAXPROCS(0); n != def {
		t.Fatalf("GOMAXPROCS %d after an overlap, want the default %d", n, def)
	}
	cancel()
	<-done
	if n := runtime.GOMAXPROCS(0); n != def {
		t.Fatalf("GOMAXPROCS %d after Run, want the default %d", n, def)
	}
}

// At one processor, a goroutine readied by the network runs at the
// caller's Yield, while the caller stays busy otherwise.
func TestYieldLetsANetworkReadyGoroutineRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	defer wr.Close()
	var got atomic.Bool
	started := make(chan struct{})
	go func() {
		close(started)
		var b [1]byte
		rd.Read(b[:]) // parks in the network poller
		got.Store(true)
	}()
	<-started
	runtime.Gosched() // let it reach the read and park
	if _, err := wr.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		busy(100 * time.Microsecond)
		Yield()
		if got.Load() {
			return
		}
	}
	t.Fatal("the reader did not run in three Yields at one processor")
}

// busy spins for d without giving up the processor.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// Start follows the load only where it helps: not when GOMAXPROCS is the
// operator's, and not when a sync would hold the one processor.
func TestStartSaysWhyItDoesNotFollow(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 || os.Getenv("GOMAXPROCS") != "" {
		t.Skip("one processor here, or GOMAXPROCS set: Start would not follow whatever the syncs")
	}
	syncsBlockWith(t, errors.New("io_uring_setup: operation not permitted"))
	idle := func() int64 { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if f, mode := Start(ctx, time.Hour, idle, nil); f != nil || !strings.Contains(mode, "fsyncs are system calls") {
		t.Fatalf("with blocking syncs: Start = %v, %q; want no follower and the reason", f, mode)
	}
	syncsBlockWith(t, nil)
	t.Setenv("GOMAXPROCS", "2")
	if f, mode := Start(ctx, time.Hour, idle, nil); f != nil || !strings.Contains(mode, "GOMAXPROCS in the environment") {
		t.Fatalf("with GOMAXPROCS set: Start = %v, %q; want no follower and the reason", f, mode)
	}
	os.Unsetenv("GOMAXPROCS") // t.Setenv restores it at the end
	if f, mode := Start(ctx, time.Hour, idle, nil); f == nil || !strings.Contains(mode, "following the load") {
		t.Fatalf("with parking syncs: Start = %v, %q; want a follower", f, mode)
	}
}

// A ring that stops working after start-up turns the syncs into system
// calls: the follower goes back to all processors at the end of the
// period, stays there, and says why in the log.
func TestStopsFollowingWhenSyncsStartBlocking(t *testing.T) {
	var blocks atomic.Bool
	syncsBlockWith(t, nil)
	syncsBlock = func() error {
		if blocks.Load() {
			return errors.New("io_uring stopped working after start-up: injected")
		}
		return nil
	}
	f, fk := newFake()
	var log bytes.Buffer
	f.log = slog.New(slog.NewTextHandler(&log, nil)) // read after Run returned
	done := make(chan struct{})
	go func() { f.Run(context.Background(), time.Millisecond, func() int64 { return 0 }); close(done) }()
	waitFor(t, "one processor while syncs park", f.One)

	blocks.Store(true)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run still following 10 s after the syncs became system calls")
	}
	if f.One() || fk.procs != 2 {
		t.Fatalf("after syncs started blocking: one=%v procs=%d (settings %v), want the default", f.One(), fk.procs, fk.settings())
	}
	if got := log.String(); !strings.Contains(got, "no longer follow the load") || !strings.Contains(got, "injected") {
		t.Fatalf("the log does not say why the follower stopped:\n%s", got)
	}
}

// syncsBlockWith makes syncsBlock return why until the test ends.
func syncsBlockWith(t *testing.T, why error) {
	t.Helper()
	orig := syncsBlock
	t.Cleanup(func() { syncsBlock = orig })
	syncsBlock = func() error { return why }
}
