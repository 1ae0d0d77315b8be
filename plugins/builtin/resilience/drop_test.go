package resilience

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// closings is a stream that counts its Close calls.
type closings struct{ n int }

func (c *closings) Next() (*core.Event, error) { return nil, io.EOF }
func (c *closings) Close() error               { c.n++; return nil }

// fakeFormat is a wire format by name only: all that fallback asks of one
// whose targets keep the model.
type fakeFormat struct{ core.Format }

func (fakeFormat) Name() string { return "fake" }

// failingThenOK answers its first two calls with a stream beside a
// retryable upstream failure (as a stage of one's own may, having got the
// stream and then refused it), then a whole answer.
func failingThenOK(streams *[]*closings) core.HandlerFunc {
	return func(context.Context, *core.Request) (*core.Response, error) {
		if len(*streams) == 2 {
			return &core.Response{Status: 200, Body: []byte("{}")}, nil
		}
		s := &closings{}
		*streams = append(*streams, s)
		return &core.Response{Status: 200, Stream: s}, &core.Error{Kind: core.KindUpstream, Status: 503, Code: "upstream_error"}
	}
}

// TestAnAttemptLetGoIsClosed: the streams of the attempts that retry and
// fallback do not pass on are closed, once each, rather than left to hold
// their upstream connections until the call's context ends.
func TestAnAttemptLetGoIsClosed(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := DefaultRetryConfig()
	cfg.InitialInterval, cfg.MaxInterval = pipeline.Duration(1), pipeline.Duration(1)
	retry, err := NewRetry(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	up := func(name string) *core.Upstream { return core.NewUpstream(name, "fake", nil, "", "") }
	fb, err := newFallback(pipeline.Spec{Name: "fallback", Config: map[string]any{"targets": []any{map[string]any{"upstream": "b"}, map[string]any{"upstream": "c"}}}},
		pipeline.Env{Log: quiet, Upstreams: map[string]*core.Upstream{"b": up("b"), "c": up("c")}})
	if err != nil {
		t.Fatal(err)
	}
	for name, stage := range map[string]core.Stage{"retry": retry, "fallback": fb.(core.Stage)} {
		t.Run(name, func(t *testing.T) {
			var streams []*closings
			req := &core.Request{Upstream: up("a"), Format: fakeFormat{}}
			resp, err := stage.Handle(context.Background(), req, failingThenOK(&streams))
			if err != nil || resp.Stream != nil {
				t.Fatalf("Handle = %+v, %v; want the whole answer of the third attempt", resp, err)
			}
			for i, s := range streams {
				if s.n != 1 {
					t.Errorf("attempt %d's stream closed %d times, want 1", i+1, s.n)
				}
			}
		})
	}
}
