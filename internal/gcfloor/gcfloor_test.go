package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, scan, headroom uint64
		want                 int
	}{
		{16 * mib, 0, 48 * mib, 300},       // the goal is live + 48 MiB
		{16 * mib, 4 * mib, 48 * mib, 240}, // stacks and globals count too
		{60 * mib, 0, 12 * mib, 100},       // a large heap: Go's default, never less
		{12 * mib, 0, 12 * mib, 100},       // exactly the headroom
		{2 * mib, 0, 6 * mib, 200},         // the minimum heap bounds it: 4 MiB * 200% = 2 + 6 MiB
		{0, 0, 6 * mib, 150},               // nothing live yet: 4 MiB * 150% = 6 MiB, not the cap
		{0, 0, 100 * mib, maxPercent},      // bounded
		{4 * mib, 0, 0, 100},               // no headroom asked
	} {
		if got := Percent(tc.live, tc.scan, tc.headroom); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.scan, tc.headroom, got, tc.want)
		}
	}
}

// TestGoalIsLivePlusHeadroom reads the goal the runtime sets after a
// collection: live + headroom, within the percent's rounding, for a
// test's small heap, where the runtime's minimum heap once tripled it.
func TestGoalIsLivePlusHeadroom(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	const headroom = 6 << 20
	runtime.GC()
	stop := Start(headroom, time.Hour) // sets GOGC once, from this collection
	defer stop()
	for deadline := time.Now().Add(10 * time.Second); gogc() == 100; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("GOGC was not raised")
		}
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	live, goal := s[0].Value.Uint64(), s[1].Value.Uint64()
	want := live + headroom
	if goal > want || goal < want*95/100 {
		t.Fatalf("heap goal %d with %d live and %d headroom, want about %d", goal, live, headroom, want)
	}
}

// TestStartRaisesAndRestores: with a small live heap GOGC goes up while
// the floor runs, and stop puts back what was there.
func TestStartRaisesAndRestores(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	runtime.GC() // a measured live heap
	stop := Start(1<<30, time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for gogc() <= 100 {
		if time.Now().After(deadline) {
			stop()
			t.Fatal("GOGC was not raised")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC after stop = %d, want 100", got)
	}
}

// gogc reads GOGC without changing it.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestForServer: no floor without a headroom, nor when GOGC is set in the
// environment (returned, so the server can say why); else the floor.
func TestForServer(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	runtime.GC()

	t.Setenv("GOGC", "")
	stop, env := ForServer(0)
	stop()
	if env != "" || gogc() != 100 {
		t.Fatalf("headroom 0: env %q, GOGC %d; want no floor", env, gogc())
	}

	t.Setenv("GOGC", "150")
	stop, env = ForServer(1 << 30)
	got := gogc()
	stop()
	if env != "150" || got != 100 {
		t.Fatalf("GOGC=150 in the environment: env %q, GOGC %d; want %q and no floor", env, got, "150")
	}

	t.Setenv("GOGC", "")
	stop, env = ForServer(1 << 30)
	defer stop()
	if env != "" {
		t.Fatalf("env %q without GOGC", env)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() <= 100 {
		if time.Now().After(deadline) {
			t.Fatal("GOGC was not raised")
		}
		time.Sleep(time.Millisecond)
	}
}
