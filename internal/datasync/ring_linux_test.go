package datasync

import (
	"bytes"
	"errors"
	"os"
	"runtime/trace"
	"strings"
	"testing"

	xtrace "golang.org/x/exp/trace"
)

func testRing(t *testing.T) *ring {
	t.Helper()
	r, err := newRing()
	if err != nil {
		t.Skipf("io_uring is not available here (%v): Fdatasync makes the system call", err)
	}
	t.Cleanup(r.close)
	return r
}

// The point of the ring: while the disk works, the goroutine waits in the
// scheduler (its processor free for others) instead of sitting in a system
// call. The same trace of the system-call path is the control.
func TestRingParksTheGoroutineInsteadOfHoldingItsProcessor(t *testing.T) {
	r := testRing(t)
	f := tempFile(t)
	syncs := func(sync func(*os.File) error) (parked, inSyscall int) {
		var buf bytes.Buffer
		if err := trace.Start(&buf); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := f.Write(make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			if err := sync(f); err != nil {
				t.Fatal(err)
			}
		}
		trace.Stop()
		return syncWaits(t, &buf)
	}
	parked, inSyscall := syncs(r.fdatasync)
	if parked == 0 || inSyscall != 0 {
		t.Errorf("through the ring: parked %d times, made %d fdatasync system calls; want parked, no system calls", parked, inSyscall)
	}
	parked, inSyscall = syncs(blocking)
	if parked != 0 || inSyscall != 20 {
		t.Errorf("system call: parked %d times, made %d fdatasync system calls; want 0 and 20", parked, inSyscall)
	}
}

// syncWaits counts, in a trace, how often a goroutine stopped running in
// the ring's wait and how often it entered the fdatasync system call.
func syncWaits(t *testing.T, trc *bytes.Buffer) (parked, inSyscall int) {
	t.Helper()
	rd, err := xtrace.NewReader(trc)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := rd.ReadEvent()
		if err != nil {
			break
		}
		if ev.Kind() != xtrace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != xtrace.ResourceGoroutine {
			continue
		}
		from, to := st.Goroutine()
		if from != xtrace.GoRunning {
			continue
		}
		switch {
		case to == xtrace.GoWaiting && onStack(ev.Stack(), "datasync.(*ring).sync"):
			parked++
		case to == xtrace.GoSyscall && onStack(ev.Stack(), "unix.Fdatasync"):
			inSyscall++
		}
	}
	return parked, inSyscall
}

func onStack(s xtrace.Stack, fn string) bool {
	for f := range s.Frames() {
		if strings.Contains(f.Func, fn) {
			return true
		}
	}
	return false
}

// A ring whose submission failed is never entered again: its syncs become
// system calls, and still succeed; Mode says so, with the reason.
func TestBrokenRingFallsBackToTheSystemCall(t *testing.T) {
	r := testRing(t)
	f := tempFile(t)
	if mode, why := modeOf(r, nil); mode != "io_uring" || why != nil {
		t.Fatalf("a working ring's mode: %q, %v", mode, why)
	}
	tail := *r.sqTail // the start-up no-op's
	r.breakWith(errors.New("io_uring_enter: injected"))
	f.WriteString("data")
	if err := r.fdatasync(f); err != nil {
		t.Fatalf("a broken ring should fall back to the system call, got %v", err)
	}
	if *r.sqTail != tail {
		t.Fatalf("a broken ring was given an entry (tail %d, was %d)", *r.sqTail, tail)
	}
	mode, why := modeOf(r, nil)
	if mode != "system call" || why == nil || !strings.Contains(why.Error(), "after start-up: io_uring_enter: injected") {
		t.Fatalf("a broken ring's mode: %q, %v; want the system call, saying why", mode, why)
	}
}

// Setting up, the ring runs a no-op through the kernel (runNop), so a ring
// that could not run is refused before anything depends on it.
func TestNewRingHasRunANoOp(t *testing.T) {
	r := testRing(t)
	if r.seq != 1 || *r.sqTail != 1 || *r.cqHead != 1 {
		t.Fatalf("after set-up: seq %d, submitted %d, reaped %d; want the one no-op", r.seq, *r.sqTail, *r.cqHead)
	}
}

// BenchmarkFdatasync: a 4 KiB append made durable, through the ring and
// through the system call. The ring's cost over the call is its
// submission and the wake-up through the poller; what it buys (the
// processor free meanwhile) does not show here.
func BenchmarkFdatasync(b *testing.B) {
	r, err := newRing()
	if err != nil {
		b.Skipf("io_uring is not available here: %v", err)
	}
	defer r.close()
	for _, bc := range []struct {
		name string
		sync func(*os.File) error
	}{{"ring", r.fdatasync}, {"syscall", blocking}} {
		b.Run(bc.name, func(b *testing.B) {
			f := tempFile(b)
			page := make([]byte, 4096)
			for b.Loop() {
				if _, err := f.Write(page); err != nil {
					b.Fatal(err)
				}
				if err := bc.sync(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
