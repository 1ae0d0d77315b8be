package wasm

import (
	"context"
	"fmt"
	"strings"
	"testing"

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

// BenchmarkCallWarm is one request hook call on a warm instance with a
// 1 KB document, per plugin and deadline mode: minimal answers at once (the
// crossing), conformance-wat scans the document 17 times (loop-heavy),
// conformance-go decodes it with encoding/json (the Go SDK).
func BenchmarkCallWarm(b *testing.B) {
	in := request1K()
	doc := abi.AppendRequest(nil, in.Req)
	for _, name := range []string{"minimal.wasm", "conformance-wat.wasm", "conformance-go.wasm"} {
		for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone, modeContextCancel, modeNone} {
			b.Run(fmt.Sprintf("%s/%s/doc=%dB", strings.TrimSuffix(name, ".wasm"), modeNames[mode], len(doc)), func(b *testing.B) {
				p := open(b, name, nil, withMode(mode))
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Call(ctx, abi.HookRequest, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
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
