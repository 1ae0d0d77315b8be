package builtin_test

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
)

func benchOutcome() *core.Outcome {
	req := &core.Request{ID: core.NewID(), Operation: "chat.completions", Model: "gpt-4o-mini", Customer: "acme",
		Metadata: map[string]string{"team": "ml"}, Received: time.Now()}
	return &core.Outcome{Request: req, Status: core.StatusOK, HTTPStatus: 200, Latency: 400 * time.Millisecond,
		Usage: core.Usage{InputTokens: 812, OutputTokens: 96, TotalTokens: 908, CachedInputTokens: 256}}
}

// handOff times Complete alone — the usage event built from the outcome and
// appended to the outbox's memory queue — in rounds of 1000 calls; between
// rounds, with the timer stopped, the outbox persists and delivers what was
// handed off, so the disk never shows up in the figure (nor does it in a
// request: it is another goroutine's work).
//
// It also reports cpu-ns/op: the CPU time of the benchmark's own thread per
// hand-off (Linux), which other load on the machine does not inflate.
func handOff(b *testing.B, parallel bool) {
	track := builtin.NewTrack([]core.Sink{builtin.NewWriterSink(io.Discard)}, []string{"discard"}, 1000, nil)
	defer track.Close(context.Background())
	o := benchOutcome()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	cpuOK := true
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		c0, ok0 := threadCPU()
		if parallel {
			per := n / 2
			ch := make(chan struct{})
			go func() {
				for range per {
					track.Complete(o)
				}
				close(ch)
			}()
			for range n - per {
				track.Complete(o)
			}
			<-ch
		} else {
			for range n {
				track.Complete(o)
			}
		}
		c1, ok1 := threadCPU()
		cpu += c1 - c0
		cpuOK = cpuOK && ok0 && ok1
		done += n
		b.StopTimer()
		track.Outbox().WaitPersisted(context.Background())
		b.StartTimer()
	}
	if cpuOK && !parallel {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkTrackHandOff is the request path's whole cost of tracking.
func BenchmarkTrackHandOff(b *testing.B) { handOff(b, false) }

// BenchmarkTrackHandOffContended is the same from two goroutines at once.
func BenchmarkTrackHandOffContended(b *testing.B) { handOff(b, true) }
