package core_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// benchStream is an OpenAI chat stream of 200 content chunks, the usage
// chunk the gateway asked for, and [DONE], as a stream that reuses its
// events (as the sse reader does).
type benchStream struct {
	events []core.Event
	i      int
}

func (s *benchStream) Next() (*core.Event, error) {
	if s.i == len(s.events) {
		return nil, io.EOF
	}
	s.i++
	return &s.events[s.i-1], nil
}

func (s *benchStream) Close() error { return nil }

func benchEvents() []core.Event {
	var evs []core.Event
	add := func(data string) {
		evs = append(evs, core.Event{Raw: []byte("data: " + data + "\n\n"), Data: []byte(data)})
	}
	for range 200 {
		add(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}],"usage":null}`)
	}
	add(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":200,"total_tokens":230}}`)
	add(`[DONE]`)
	return evs
}

// benchEngineStream runs streamed calls through the engine: a stage that
// wraps the stream and passes every event on (a stream_event hook that
// changes nothing, without the plugin's cost), then the answer, metered
// where it is made (as the call stage does) or only at the pipeline's
// exit. The caller reads every event: what metering costs per stream and
// per event, without HTTP or the sse decoder.
func benchEngineStream(b *testing.B, atSource bool) {
	evs := benchEvents()
	pass := core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp, err := next(ctx, req)
		if err == nil && resp.Stream != nil {
			resp.Stream = struct{ core.Stream }{resp.Stream}
		}
		return resp, err
	})
	answer := core.StageFunc(func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
		resp := &core.Response{Status: 200, Header: http.Header{}, Stream: &benchStream{events: evs}}
		if atSource {
			return core.MeterStream(req, resp), nil
		}
		return resp, nil
	})
	eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{pass, answer}, nil, nil)),
		core.WithFormats(openai.New()), core.WithUpstream(core.NewUpstream("openai", "openai", nil, "", "")))
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("hi ", 50) + `"}]}`
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		resp, err := eng.Do(context.Background(), &core.Request{Path: "/v1/chat/completions", Body: []byte(body)})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if _, err := resp.Stream.Next(); err != nil {
				break
			}
			n++
		}
		resp.Stream.Close()
		if n != 201 { // the usage chunk hidden
			b.Fatalf("%d events reached the caller", n)
		}
	}
}

// BenchmarkEngineStreamExit meters the stream as it leaves the pipeline
// (a cache hit, or a call stage that does not call MeterStream).
func BenchmarkEngineStreamExit(b *testing.B) { benchEngineStream(b, false) }

// BenchmarkEngineStreamMetered meters it where it is made, as the call
// stage does.
func BenchmarkEngineStreamMetered(b *testing.B) { benchEngineStream(b, true) }
