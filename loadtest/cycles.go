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
	var (
		start    trace.Time
		gs       = map[trace.GoID]*goroutine{}
		out      []Cycle
		gcs      [][2]trace.Time
		gcOpened trace.Time
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
				g.cycle = &Cycle{Start: time.Duration(t)}
			}
		}
	}
	for i := range out {
		c := &out[i]
		s, e := trace.Time(c.Start), trace.Time(c.Start+c.Length)
		c.GC = slices.ContainsFunc(gcs, func(r [2]trace.Time) bool { return r[0] < e && r[1] > s })
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
