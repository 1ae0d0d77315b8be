package loadtest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// A Cycle is one call as a gateway connection's goroutine lives it at c=1:
// from the end of one response write to the end of the next, split by
// what the goroutine was doing meanwhile.
type Cycle struct {
	Start    time.Duration // since the trace began
	Length   time.Duration
	Own      time.Duration // running, runnable or in a system call
	Upstream time.Duration // waiting for the upstream's answer
	Client   time.Duration // waiting for the client's next request
	Other    time.Duration // waiting on anything else
	GC       bool          // a collection overlapped it
	// Beside is how long the gateway's other goroutines ran during the
	// cycle, by kind (Kinds): what shared the two cores with the call.
	Beside map[string]time.Duration

	owner trace.GoID // the connection's goroutine
}

// The kinds of the gateway's other goroutines Cycle.Beside counts.
const (
	KindMark     = "collector's mark workers"
	KindSweep    = "collector's sweeper and scavenger"
	KindWriter   = "usage outbox writer"
	KindDelivery = "usage delivery"
	KindConns    = "other connections"
	KindTracer   = "the tracer itself"
	KindOther    = "other"
)

// Kinds lists the kinds of Cycle.Beside in the order to print them.
var Kinds = []string{KindMark, KindSweep, KindWriter, KindDelivery, KindConns, KindTracer, KindOther}

// kindOf names a goroutine by the functions on its stack.
func kindOf(s trace.Stack) string {
	var funcs []string
	for f := range s.Frames() {
		funcs = append(funcs, f.Func)
	}
	return kindOfFuncs(funcs)
}

// kindOfFuncs names a goroutine by the names of the functions on its stack.
func kindOfFuncs(funcs []string) string {
	for _, k := range []struct{ fn, kind string }{
		{"runtime.gcBgMarkWorker", KindMark},
		{"runtime.bgsweep", KindSweep},
		{"runtime.bgscavenge", KindSweep},
		{"tracking.(*Outbox).writeLoop", KindWriter},
		{"tracking.(*worker)", KindDelivery},
		{"h1server.(*conn).serve", KindConns},
		// writing the trace out: the reader goroutine runtime/trace
		// starts (Go 1.25 and later), or Start's own (before)
		{"runtime.ReadTrace", KindTracer},
		{"runtime/trace.(*traceMultiplexer)", KindTracer},
		{"runtime/trace.Start", KindTracer},
	} {
		if slices.ContainsFunc(funcs, func(f string) bool { return strings.Contains(f, k.fn) }) {
			return k.kind
		}
	}
	return KindOther
}

// Cause names the largest part of the cycle: "gateway", "upstream",
// "client" or "other".
func (c Cycle) Cause() string {
	cause, most := "gateway", c.Own
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"upstream", c.Upstream}, {"client", c.Client}, {"other", c.Other}} {
		if p.d > most {
			cause, most = p.name, p.d
		}
	}
	return cause
}

// Cycles reads a runtime execution trace of the gateway (`loadtest
// profile --trace`) and returns the cycles of every connection served by
// internal/h1server: where a slow call spent its time, which a CPU
// profile cannot say, since waiting costs no CPU.
func Cycles(r io.Reader) ([]Cycle, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the trace: %v", err)
	}
	type goroutine struct {
		cycle   *Cycle // the open cycle, after a first response write
		since   trace.Time
		waitFor *time.Duration // the part a wait counts towards
		inWrite bool           // the system call in progress writes a response
	}
	// ran is a stretch of time another goroutine ran.
	type ran struct {
		from, to trace.Time
		g        trace.GoID
	}
	var (
		start    trace.Time
		gs       = map[trace.GoID]*goroutine{}
		out      []Cycle
		gcs      [][2]trace.Time
		gcOpened trace.Time
		kinds    = map[trace.GoID]string{}
		running  = map[trace.GoID]trace.Time{}
		ranList  []ran
	)
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the trace: %v", err)
		}
		if start == 0 {
			start = ev.Time()
		}
		switch ev.Kind() {
		case trace.EventRangeBegin:
			if strings.HasPrefix(ev.Range().Name, "GC concurrent") {
				gcOpened = ev.Time()
			}
		case trace.EventRangeEnd:
			if strings.HasPrefix(ev.Range().Name, "GC concurrent") {
				gcs = append(gcs, [2]trace.Time{gcOpened, ev.Time()})
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			id := st.Resource.Goroutine()
			from, to := st.Goroutine()
			if from == trace.GoRunning && ev.Goroutine() == id && kinds[id] == "" {
				kinds[id] = kindOf(ev.Stack())
			}
			if to == trace.GoRunning {
				running[id] = ev.Time()
			} else if since, ok := running[id]; ok && from == trace.GoRunning {
				ranList = append(ranList, ran{since, ev.Time(), id})
				delete(running, id)
			}
			g := gs[id]
			// A goroutine's own stack comes with the transitions it makes
			// itself: leaving the running state.
			self := from == trace.GoRunning && ev.Goroutine() == id
			if g == nil {
				if !self || !onStack(ev.Stack(), "h1server.(*conn).serve") {
					continue
				}
				g = &goroutine{}
				gs[id] = g
			}
			t := ev.Time()
			if c := g.cycle; c != nil {
				d := time.Duration(t - g.since)
				switch from {
				case trace.GoRunning, trace.GoRunnable, trace.GoSyscall:
					c.Own += d
				case trace.GoWaiting:
					if g.waitFor != nil {
						*g.waitFor += d
					}
				}
			}
			g.since = t
			if self && to == trace.GoWaiting && g.cycle != nil {
				g.waitFor = &g.cycle.Other
				switch {
				case onStack(ev.Stack(), "h1transport."):
					g.waitFor = &g.cycle.Upstream
				case onStack(ev.Stack(), "h1server."):
					g.waitFor = &g.cycle.Client
				}
			}
			if self && to == trace.GoSyscall {
				g.inWrite = onStack(ev.Stack(), "h1server.(*response).finish")
			}
			if from == trace.GoSyscall && g.inWrite {
				g.inWrite = false
				if c := g.cycle; c != nil {
					c.Length = time.Duration(t) - c.Start
					out = append(out, *c)
				}
				g.cycle = &Cycle{Start: time.Duration(t), owner: id}
			}
		}
	}
	// Stretches in order of their start: a cycle looks from the first that
	// could still be running when it began (none runs longer than longest).
	slices.SortFunc(ranList, func(a, b ran) int { return int(a.from - b.from) })
	var longest trace.Time
	for _, r := range ranList {
		longest = max(longest, r.to-r.from)
	}
	for i := range out {
		c := &out[i]
		s, e := trace.Time(c.Start), trace.Time(c.Start+c.Length)
		c.GC = slices.ContainsFunc(gcs, func(r [2]trace.Time) bool { return r[0] < e && r[1] > s })
		first, _ := slices.BinarySearchFunc(ranList, s-longest, func(r ran, t trace.Time) int { return int(r.from - t) })
		for _, r := range ranList[first:] {
			if r.from >= e {
				break
			}
			if r.to <= s || r.g == c.owner {
				continue
			}
			if c.Beside == nil {
				c.Beside = map[string]time.Duration{}
			}
			k := kinds[r.g]
			if k == "" {
				k = KindOther // its stack not seen yet
			}
			c.Beside[k] += time.Duration(min(r.to, e) - max(r.from, s))
		}
		c.Start -= time.Duration(start)
	}
	return out, nil
}

// onStack reports whether a frame of s is in a function whose name
// contains fn.
func onStack(s trace.Stack, fn string) bool {
	for f := range s.Frames() {
		if strings.Contains(f.Func, fn) {
			return true
		}
	}
	return false
}
