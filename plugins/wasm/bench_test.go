package wasm

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// request1K is a chat request whose request document is about 1 KB.
func request1K() *abi.Input {
	content := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 17)
	req := request("gpt-4o")
	req.Body = []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` + content + `"}],"temperature":0.2}`)
	req.Format.Parse(req)
	return &abi.Input{Req: req}
}

var modeNames = map[deadlineMode]string{modeInstrument: "loop-checks", modeCloseOnDone: "close-on-done+timer",
	modeContextCancel: "close-on-done+ctx", modeNone: "no-deadline"}

// warm calls p's single instance until its linear memory stops growing: a
// Go guest's heap grows for thousands of calls, up to its first GC cycles,
// and wazero copies the memory as it grows, which is not a warm call's
// cost. It stops when the memory kept its size for 16,000 calls (the Go
// runtime grows it in steps of megabytes), or after 3 s.
func warm(b *testing.B, p *Plugin, hook int, in *abi.Input) {
	b.Helper()
	ctx := context.Background()
	size := func() uint32 {
		inst, err := p.pool.acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer p.pool.put(inst, true)
		return inst.mem.Size()
	}
	start, last, stable := time.Now(), size(), 0
	for stable < 16 && time.Since(start) < 3*time.Second {
		for range 1000 {
			if _, err := p.Call(ctx, hook, in); err != nil {
				b.Fatal(err)
			}
		}
		if now := size(); now != last {
			last, stable = now, 0
		} else {
			stable++
		}
	}
}

// cpuMeter reports cpu-ns/op beside the wall time: the CPU time of the
// benchmark's own OS thread, which load from other processes on a shared
// machine does not inflate. A warm call runs entirely on the calling
// goroutine, so its thread's CPU time is the call's cost.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

// startCPU locks the goroutine to its thread and reads its CPU time.
func startCPU() cpuMeter {
	runtime.LockOSThread()
	t, ok := threadCPU()
	return cpuMeter{t, ok}
}

// report adds cpu-ns/op and unlocks the thread.
func (m cpuMeter) report(b *testing.B) {
	t, ok := threadCPU()
	runtime.UnlockOSThread()
	if ok && m.ok && b.N > 0 {
		b.ReportMetric(float64((t-m.start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkCallWarm is one request hook call on a warm instance with a
// 1 KB document, per plugin and deadline mode: minimal answers at once (the
// crossing), conformance-wat scans the document 17 times (loop-heavy),
// conformance-go is the Go SDK (its request hook reads the model and
// answers continue).
func BenchmarkCallWarm(b *testing.B) {
	in := request1K()
	doc := abi.AppendRequest(nil, in.Req)
	for _, name := range []string{"minimal.wasm", "conformance-wat.wasm", "conformance-go.wasm"} {
		for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone, modeContextCancel, modeNone} {
			b.Run(fmt.Sprintf("%s/%s/doc=%dB", strings.TrimSuffix(name, ".wasm"), modeNames[mode], len(doc)), func(b *testing.B) {
				p := open(b, name, func(c *Config) { c.PoolSize = 1 }, withMode(mode))
				warm(b, p, abi.HookRequest, in)
				ctx := context.Background()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if _, err := p.Call(ctx, abi.HookRequest, in); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// hookInputs are the documents of the hook benchmarks besides request: a
// 1 KB answer, and a typical chunk of a streamed one.
func hookInputs() []struct {
	name string
	hook int
	in   *abi.Input
} {
	req := request1K().Req
	content := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 17)
	resp := &core.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"` +
			content + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":212,"completion_tokens":180,"total_tokens":392}}`),
		Usage: core.Usage{InputTokens: 212, OutputTokens: 180}, UsageKnown: true}
	ev := &core.Event{Data: []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" jumps over"},"finish_reason":null}]}`)}
	return []struct {
		name string
		hook int
		in   *abi.Input
	}{
		{"request", abi.HookRequest, request1K()},
		{"response", abi.HookResponse, &abi.Input{Req: req, Resp: resp}},
		{"stream_event", abi.HookStreamEvent, &abi.Input{Req: req, Ev: ev}},
	}
}

// BenchmarkCallWarmHooks is the Go SDK's other stage hooks on a warm
// instance with the default deadline checks: response with a 1 KB answer
// (the conformance plugin reads the body) and stream_event with a typical
// chunk (it reads the data).
func BenchmarkCallWarmHooks(b *testing.B) {
	for _, tt := range hookInputs()[1:] {
		doc, _ := tt.in.Encode(nil, tt.hook)
		b.Run(fmt.Sprintf("%s/doc=%dB", tt.name, len(doc)), func(b *testing.B) {
			p := open(b, "conformance-go.wasm", func(c *Config) { c.PoolSize = 1 })
			warm(b, p, tt.hook, tt.in)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, err := p.Call(ctx, tt.hook, tt.in); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkEncodeRequest is the host's share of a call: the 1 KB request
// document.
func BenchmarkEncodeRequest(b *testing.B) {
	in := request1K()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = abi.AppendRequest(buf[:0], in.Req)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkInstanceCreate is a cold instance: instantiate, _initialize
// (the Go runtime's start for a Go guest), close.
func BenchmarkInstanceCreate(b *testing.B) {
	for _, name := range []string{"minimal.wasm", "conformance-go.wasm"} {
		b.Run(strings.TrimSuffix(name, ".wasm"), func(b *testing.B) {
			p := open(b, name, nil)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				inst, err := p.pool.create(ctx)
				if err != nil {
					b.Fatal(err)
				}
				inst.close()
			}
		})
	}
}

// BenchmarkPoolContention is many goroutines sharing a pool of 2 warm
// instances of the Go SDK plugin.
func BenchmarkPoolContention(b *testing.B) {
	p := open(b, "conformance-go.wasm", func(c *Config) { c.PoolSize, c.MinInstances = 2, 2 })
	in := request1K()
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		in := &abi.Input{Req: in.Req}
		for pb.Next() {
			if _, err := p.Call(ctx, abi.HookRequest, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
