package core_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// fakeFormat is a minimal wire format: every event carries one output token,
// and an event with data "end" is the last.
type fakeFormat struct{}

func (fakeFormat) Name() string                                    { return "fake" }
func (fakeFormat) Match(_, path string) (string, bool)             { return "op", path == "/op" }
func (fakeFormat) Parse(r *core.Request)                           { r.Model = "m" }
func (fakeFormat) Validate(*core.Request) *core.Error              { return nil }
func (fakeFormat) UpstreamPath(r *core.Request) string             { return r.Path }
func (fakeFormat) Authorize(http.Header, string)                   {}
func (fakeFormat) ErrorBody(e *core.Error) []byte                  { return []byte(e.Error()) }
func (fakeFormat) ObserveStream(*core.Request) core.StreamObserver { return &fakeObserver{} }
func (fakeFormat) Usage(_ *core.Request, b []byte) (core.Usage, bool) {
	return core.Usage{InputTokens: 1, OutputTokens: int64(len(b))}, true
}

type fakeObserver struct {
	done    bool
	failure string
}

// Observe counts a token per event; "end" is the last event, "fail" an
// error the stream reports inside itself.
func (o *fakeObserver) Observe(ev *core.Event, u *core.Usage) bool {
	u.OutputTokens++
	o.done = string(ev.Data) == "end"
	if string(ev.Data) == "fail" {
		o.failure = "overloaded"
	}
	return true
}
func (o *fakeObserver) Finished() bool  { return o.done }
func (o *fakeObserver) Failure() string { return o.failure }

// script is a stream of the given event data, then io.EOF.
func script(data ...string) core.Stream {
	return core.StreamFunc{NextFunc: func() (*core.Event, error) {
		if len(data) == 0 {
			return nil, io.EOF
		}
		d := data[0]
		data = data[1:]
		return &core.Event{Raw: []byte("data: " + d + "\n\n"), Data: []byte(d)}, nil
	}}
}

// drain reads a stream to its end, wanting the clean end (io.EOF) the
// upstream gave, and closes it.
func drain(t *testing.T, r *core.Response) {
	for {
		if _, err := r.Stream.Next(); err != nil {
			if err != io.EOF {
				t.Errorf("the stream ended with %v, not io.EOF", err)
			}
			break
		}
	}
	r.Stream.Close()
}

// readToEnd reads a stream until it ends, however it ends.
func readToEnd(s core.Stream) {
	for {
		if _, err := s.Next(); err != nil {
			return
		}
	}
}

// outcomes records every outcome a completer sees.
type outcomes struct {
	mu  sync.Mutex
	all []*core.Outcome
}

func (o *outcomes) Complete(out *core.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, out)
}

// events is a stream of n events, the last one "end".
func events(n int) core.Stream {
	i := 0
	return core.StreamFunc{NextFunc: func() (*core.Event, error) {
		if i >= n {
			return nil, io.EOF
		}
		i++
		data := "x"
		if i == n {
			data = "end"
		}
		return &core.Event{Raw: []byte("data: " + data + "\n\n"), Data: []byte(data)}, nil
	}}
}

func newEngine(answer core.StageFunc, rec *outcomes) *core.Engine {
	p := core.NewPipeline([]core.Stage{answer}, []core.Completer{rec}, nil)
	return core.New(core.WithPipeline(p), core.WithFormats(fakeFormat{}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
}

func TestCompletersSeeEveryOutcomeOnce(t *testing.T) {
	tests := []struct {
		name       string
		answer     core.StageFunc
		consume    func(*testing.T, *core.Response)
		wantStatus string
		wantOut    int64
	}{
		{"whole answer", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Body: []byte("abc")}, nil
		}, nil, core.StatusOK, 3},
		{"denial", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return nil, core.Errorf(core.KindDenied, "policy", "no")
		}, nil, core.StatusDenied, 0},
		{"upstream error", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return nil, &core.Error{Kind: core.KindUpstream, Status: 503}
		}, nil, core.StatusUpstreamError, 0},
		{"stream read to the end", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: events(3)}, nil
		}, func(t *testing.T, r *core.Response) {
			readToEnd(r.Stream)
			r.Stream.Close()
		}, core.StatusOK, 3},
		{"stream closed after its last event", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: events(2)}, nil
		}, func(t *testing.T, r *core.Response) {
			r.Stream.Next()
			r.Stream.Next()
			r.Stream.Close()
			r.Stream.Close()
		}, core.StatusOK, 2},
		// the client hung up once it read the last event, which cancelled
		// the read of the upstream's end (seen end to end with the OpenAI SDK)
		{"stream failing after its last event", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			inner := events(2)
			return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
				ev, err := inner.Next()
				if err == io.EOF {
					return nil, net.ErrClosed
				}
				return ev, err
			}}}, nil
		}, drain, core.StatusOK, 2},
		{"client gone mid-stream", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: events(5)}, nil
		}, func(t *testing.T, r *core.Response) {
			r.Stream.Next()
			r.Stream.Next()
			r.Stream.Close()
		}, core.StatusClientAborted, 2},
		// the upstream ended the stream cleanly, but before its last event
		{"stream ending early", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: script("x", "x")}, nil
		}, drain, core.StatusUpstreamError, 2},
		{"stream reporting an error, then ending", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: script("x", "fail")}, nil
		}, drain, core.StatusUpstreamError, 2},
		{"stream reporting an error after its last event", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: script("x", "end", "fail")}, nil
		}, drain, core.StatusUpstreamError, 3},
		// the client read the error event and hung up: not a client abort
		{"client closing after an error event", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Stream: script("x", "fail", "x")}, nil
		}, func(t *testing.T, r *core.Response) {
			r.Stream.Next()
			r.Stream.Next()
			r.Stream.Close()
		}, core.StatusUpstreamError, 2},
		{"stream broken upstream", func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			n := 0
			return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
				if n++; n > 1 {
					return nil, io.ErrUnexpectedEOF
				}
				return &core.Event{Data: []byte("x")}, nil
			}}}, nil
		}, func(t *testing.T, r *core.Response) {
			readToEnd(r.Stream)
			r.Stream.Close()
		}, core.StatusUpstreamError, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &outcomes{}
			eng := newEngine(tt.answer, rec)
			resp, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
			if err == nil && tt.consume != nil {
				tt.consume(t, resp)
			}
			if len(rec.all) != 1 {
				t.Fatalf("completer saw %d outcomes, want exactly 1", len(rec.all))
			}
			o := rec.all[0]
			if o.Status != tt.wantStatus || o.Usage.OutputTokens != tt.wantOut {
				t.Errorf("outcome status %q output %d, want %q %d", o.Status, o.Usage.OutputTokens, tt.wantStatus, tt.wantOut)
			}
			if o.Usage.TotalTokens != o.Usage.InputTokens+o.Usage.OutputTokens {
				t.Errorf("total %d is not input + output", o.Usage.TotalTokens)
			}
		})
	}
}

// TestStreamEndIsRecordedWithItsCause: a stream cut short or failing says
// why in its event's error; the provider's own error comes first.
func TestStreamEndIsRecordedWithItsCause(t *testing.T) {
	tests := []struct {
		name    string
		stream  core.Stream
		wantErr string
	}{
		{"ended before its last event", script("x"), "the upstream ended the stream before its last event"},
		{"an error event", script("x", "fail"), "the upstream reported an error in the stream: overloaded"},
		{"an error event, then a broken connection", core.StreamFunc{NextFunc: func() func() (*core.Event, error) {
			s := script("fail")
			return func() (*core.Event, error) {
				if ev, err := s.Next(); err == nil {
					return ev, nil
				}
				return nil, io.ErrUnexpectedEOF
			}
		}()}, "overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &outcomes{}
			eng := newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
				return &core.Response{Status: 200, Stream: tt.stream}, nil
			}, rec)
			resp, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
			if err != nil {
				t.Fatal(err)
			}
			readToEnd(resp.Stream)
			o := rec.all[0]
			if o.Status != core.StatusUpstreamError || o.Err == nil || !strings.Contains(o.Err.Error(), tt.wantErr) {
				t.Errorf("outcome %s: %v; want an upstream error saying %q", o.Status, o.Err, tt.wantErr)
			}
		})
	}
}

// TestClientGoneAfterAnErrorEvent: a client that read the provider's error
// event and went away (its context cancelled) leaves an upstream error, the
// provider's, not a client abort; its http_status is the 200 it got.
func TestClientGoneAfterAnErrorEvent(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: script("x", "fail", "x")}, nil
	}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := eng.Do(ctx, &core.Request{Path: "/op"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Stream.Next()
	resp.Stream.Next()
	cancel()
	resp.Stream.Close()
	if o := rec.all[0]; o.Status != core.StatusUpstreamError || o.HTTPStatus != http.StatusOK || !strings.Contains(o.Err.Error(), "overloaded") {
		t.Errorf("outcome %s %d: %v; want the provider's error", o.Status, o.HTTPStatus, o.Err)
	}
}

func TestDoAttributesFromContext(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200}, nil
	}, rec)
	ctx := core.WithMetadata(core.WithMetadata(core.WithCustomer(context.Background(), "acme"), "team", "ml"), "env", "prod")
	if _, err := eng.Do(ctx, &core.Request{Path: "/op"}); err != nil {
		t.Fatal(err)
	}
	ev := core.NewUsageEvent(rec.all[0])
	if ev.CustomerID != "acme" || ev.Metadata["team"] != "ml" || ev.Metadata["env"] != "prod" || ev.ID == "" {
		t.Errorf("event = %+v", ev)
	}
}

func TestRequireCustomer(t *testing.T) {
	rec := &outcomes{}
	p := core.NewPipeline(nil, []core.Completer{rec}, nil)
	eng := core.New(core.WithPipeline(p), core.WithFormats(fakeFormat{}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")), core.WithCustomerHeader("X-Customer", true))
	_, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
	if !errors.Is(err, core.ErrValidation) || len(rec.all) != 1 || rec.all[0].Status != core.StatusInvalid {
		t.Fatalf("want a tracked validation error naming the header, got %v", err)
	}
}

func TestUnknownPathIsNotFound(t *testing.T) {
	eng := newEngine(nil, &outcomes{})
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/nope"}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}

func TestNewIDIsUniqueAndVersion7(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := core.NewID()
		if len(id) != 36 || id[14] != '7' || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func BenchmarkNewID(b *testing.B) {
	for b.Loop() {
		core.NewID()
	}
}

// Time to first token counts to the first event with data, not to a
// keep-alive comment the upstream sends while the model thinks. The call
// is made to look an hour old once the comment has passed: measured at
// the data event, the delay is that hour.
func TestTimeToFirstTokenSkipsKeepAlives(t *testing.T) {
	rec := &outcomes{}
	var req *core.Request
	n := 0
	stream := core.StreamFunc{NextFunc: func() (*core.Event, error) {
		n++
		switch n {
		case 1:
			return &core.Event{Raw: []byte(": ping\n\n")}, nil
		case 2:
			req.Received = time.Now().Add(-time.Hour)
			return &core.Event{Raw: []byte("data: x\n\n"), Data: []byte("x")}, nil
		}
		return nil, io.EOF
	}}
	eng := newEngine(func(_ context.Context, r *core.Request, _ core.HandlerFunc) (*core.Response, error) {
		req = r
		return &core.Response{Status: 200, Stream: stream}, nil
	}, rec)
	resp, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
	if err != nil {
		t.Fatal(err)
	}
	readToEnd(resp.Stream)
	resp.Stream.Close()
	if got := rec.all[0].TimeToFirstToken; got < 59*time.Minute {
		t.Errorf("time to first token %v: measured at the keep-alive comment, not at the first data", got)
	}
}

// TestClientGoneMidStreamSaysSo: a client that goes away mid-stream cancels
// the upstream read, whose error is then an artefact of that ("use of
// closed network connection", naming the upstream's address): the event
// says the client went away, as when the client closes the stream.
func TestClientGoneMidStreamSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inner := events(5)
	rec := &outcomes{}
	eng := newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
			if ctx.Err() != nil {
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
			}
			return inner.Next()
		}}}, nil
	}, rec)
	resp, err := eng.Do(ctx, &core.Request{Path: "/op"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Stream.Next()
	cancel()
	readToEnd(resp.Stream)
	resp.Stream.Close()
	if len(rec.all) != 1 {
		t.Fatalf("%d outcomes, want 1", len(rec.all))
	}
	o := rec.all[0]
	if o.Status != core.StatusClientAborted || o.HTTPStatus != 499 || o.Err == nil || o.Err.Error() != "the client went away" {
		t.Errorf("outcome %s %d, error %v; want client_aborted, 499, the client went away", o.Status, o.HTTPStatus, o.Err)
	}
	// A client closing the stream mid-way is recorded alike (it said
	// "client_gone", the kind's name).
	rec = &outcomes{}
	eng = newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: events(5)}, nil
	}, rec)
	if resp, err = eng.Do(context.Background(), &core.Request{Path: "/op"}); err != nil {
		t.Fatal(err)
	}
	resp.Stream.Next()
	resp.Stream.Close()
	if o := rec.all[0]; o.Status != core.StatusClientAborted || o.Err == nil || o.Err.Error() != "the client went away" {
		t.Errorf("closed mid-stream: outcome %s, error %v; want client_aborted, the client went away", o.Status, o.Err)
	}
}
