package core_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// meterFormat is fakeFormat whose streams report usage as upstreams do:
// "x" is a content event (one output token, counted as an estimate until
// a report arrives), "u=N" the upstream's report of N output tokens, "gw"
// an event the gateway asked for on its own behalf (hidden from the
// client), "fail" an error the upstream reports inside the stream, "end"
// the last event.
type meterFormat struct{ fakeFormat }

func (meterFormat) ObserveStream(*core.Request) core.StreamObserver { return &meterObserver{} }

type meterObserver struct {
	reported, done bool
	failure        string
}

func (o *meterObserver) Observe(ev *core.Event, u *core.Usage) bool {
	d := string(ev.Data)
	switch {
	case d == "x" && !o.reported:
		u.OutputTokens++
		u.Estimated = true
	case strings.HasPrefix(d, "u="):
		n, _ := strconv.ParseInt(d[2:], 10, 64)
		*u = core.Usage{InputTokens: 3, OutputTokens: n}
		o.reported = true
	case d == "gw":
		return false
	case d == "fail":
		o.failure = "overloaded"
	case d == "end":
		o.done = true
	}
	return true
}
func (o *meterObserver) Finished() bool  { return o.done }
func (o *meterObserver) Failure() string { return o.failure }

// upstream is a stream as an upstream sends it: the events, then end
// (io.EOF when nil). It reuses one event, as the sse reader does, and
// counts what was read of it and how often it was closed: once, by one
// owner, whichever way the call ends.
type upstream struct {
	data   []string
	end    error
	ev     core.Event
	read   int
	closes int
}

func (u *upstream) Next() (*core.Event, error) {
	if u.closes > 0 {
		return nil, io.ErrClosedPipe
	}
	if u.read == len(u.data) {
		if u.end != nil {
			return nil, u.end
		}
		return nil, io.EOF
	}
	d := u.data[u.read]
	u.read++
	u.ev = core.Event{Raw: []byte("data: " + d + "\n\n"), Data: []byte(d)}
	return &u.ev, nil
}

func (u *upstream) Close() error { u.closes++; return nil }

// callStage answers with up as the call stage does: metered where it is
// made.
func callStage(up *upstream) core.StageFunc {
	return func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
		return core.MeterStream(req, &core.Response{Status: 200, Header: http.Header{}, Stream: up}), nil
	}
}

// streamStage wraps the stream it gets from next in wrap, as a plugin's
// stream_event hook or a guardrail does.
func streamStage(wrap func(core.Stream) core.Stream) core.StageFunc {
	return func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp, err := next(ctx, req)
		if err == nil && resp.Stream != nil {
			resp.Stream = wrap(resp.Stream)
		}
		return resp, err
	}
}

// each passes the stream's events through f, which returns the event the
// client gets (ev itself, perhaps changed in place, or another), or nil to
// drop it; io.EOF and errors pass as they are.
func each(f func(ev *core.Event) *core.Event) func(core.Stream) core.Stream {
	return func(s core.Stream) core.Stream {
		return core.StreamFunc{NextFunc: func() (*core.Event, error) {
			for {
				ev, err := s.Next()
				if err != nil {
					return nil, err
				}
				if ev = f(ev); ev != nil {
					return ev, nil
				}
			}
		}, CloseFunc: s.Close}
	}
}

func dropData(d string) func(core.Stream) core.Stream {
	return each(func(ev *core.Event) *core.Event {
		if string(ev.Data) == d {
			return nil
		}
		return ev
	})
}

func newMeterEngine(rec *outcomes, stages ...core.Stage) *core.Engine {
	p := core.NewPipeline(stages, []core.Completer{rec}, nil)
	return core.New(core.WithPipeline(p), core.WithFormats(meterFormat{}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
}

// streamResult is what the client got of a stream and the outcome recorded.
type streamResult struct {
	got []string // the data of each event the client got
	end error    // what the client's last Next returned
	o   *core.Outcome
}

// runStream makes one streamed call through stages, reads it to its end
// (or, with most >= 0, reads that many events and closes it), and returns
// what the client got and the call's single outcome.
func runStream(t *testing.T, most int, stages ...core.Stage) streamResult {
	t.Helper()
	rec := &outcomes{}
	resp, err := newMeterEngine(rec, stages...).Do(context.Background(), &core.Request{Path: "/op"})
	if err != nil {
		t.Fatal(err)
	}
	var r streamResult
	for most < 0 || len(r.got) < most {
		ev, err := resp.Stream.Next()
		if err != nil {
			r.end = err
			break
		}
		r.got = append(r.got, string(ev.Data))
	}
	resp.Stream.Close()
	if len(rec.all) != 1 {
		t.Fatalf("%d outcomes, want 1", len(rec.all))
	}
	r.o = rec.all[0]
	return r
}

// A stage between the call stage and the client changes what the client
// gets, never what the upstream reported: the usage and the way the
// stream ended are read where the call stage made the stream.
func TestStreamIsMeteredAsTheUpstreamSentIt(t *testing.T) {
	full := func() *upstream { return &upstream{data: []string{"x", "x", "u=7", "end"}} }
	tests := []struct {
		name          string
		up            *upstream
		wrap          func(core.Stream) core.Stream
		wantGot       string
		wantStatus    string
		wantOut       int64
		wantEstimated bool
		wantErr       string
	}{
		{"a stage passing every event", full(), each(func(ev *core.Event) *core.Event { return ev }),
			"x,x,u=7,end", core.StatusOK, 7, false, ""},
		{"a stage dropping the event with the usage", full(), dropData("u=7"),
			"x,x,end", core.StatusOK, 7, false, ""},
		{"a stage rewriting the usage lower, in place", full(), each(func(ev *core.Event) *core.Event {
			if string(ev.Data) == "u=7" {
				ev.Data, ev.Raw = []byte("u=1"), []byte("data: u=1\n\n")
			}
			return ev
		}), "x,x,u=1,end", core.StatusOK, 7, false, ""},
		{"a stage replacing the usage event with one of its own", full(), each(func(ev *core.Event) *core.Event {
			if string(ev.Data) == "u=7" {
				return &core.Event{Raw: []byte("data: u=1\n\n"), Data: []byte("u=1")}
			}
			return ev
		}), "x,x,u=1,end", core.StatusOK, 7, false, ""},
		{"a stage dropping the last event", full(), dropData("end"),
			"x,x,u=7", core.StatusOK, 7, false, ""},
		// The upstream said nothing was wrong: an error a stage writes is
		// the client's to read, not the call's.
		{"a stage writing an error event", full(), each(func(ev *core.Event) *core.Event {
			if string(ev.Data) == "x" {
				return &core.Event{Raw: []byte("data: fail\n\n"), Data: []byte("fail")}
			}
			return ev
		}), "fail,fail,u=7,end", core.StatusOK, 7, false, ""},
		// ...and an error the upstream reported stays the call's.
		{"a stage dropping the upstream's error event", &upstream{data: []string{"x", "fail"}}, dropData("fail"),
			"x", core.StatusUpstreamError, 1, true, "the upstream reported an error in the stream: overloaded"},
		{"a stage passing a stream the upstream ended early", &upstream{data: []string{"x", "x"}}, dropData("none"),
			"x,x", core.StatusUpstreamError, 2, true, "the upstream ended the stream before its last event"},
		// A stage hiding the break from the client does not hide it from
		// the ledger.
		{"a stage ending cleanly a stream that broke upstream", &upstream{data: []string{"x"}, end: io.ErrUnexpectedEOF},
			func(s core.Stream) core.Stream {
				return core.StreamFunc{NextFunc: func() (*core.Event, error) {
					ev, err := s.Next()
					if err != nil {
						return nil, io.EOF
					}
					return ev, nil
				}, CloseFunc: s.Close}
			}, "x", core.StatusUpstreamError, 1, true, io.ErrUnexpectedEOF.Error()},
		{"a stage failing on a stream the upstream sends well", full(), func(s core.Stream) core.Stream {
			return core.StreamFunc{NextFunc: func() (*core.Event, error) {
				ev, err := s.Next()
				if err == nil && string(ev.Data) == "u=7" {
					return nil, core.Errorf(core.KindInternal, "broken_stage", "the stage broke")
				}
				return ev, err
			}, CloseFunc: s.Close}
		}, "x,x", core.StatusError, 7, false, "the stage broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runStream(t, -1, streamStage(tt.wrap), callStage(tt.up))
			if got := strings.Join(r.got, ","); got != tt.wantGot {
				t.Errorf("the client got %s, want %s: what the stage made", got, tt.wantGot)
			}
			o := r.o
			if o.Status != tt.wantStatus || o.Usage.OutputTokens != tt.wantOut || o.Usage.Estimated != tt.wantEstimated {
				t.Errorf("outcome %s, usage %+v; want %s with %d output tokens, estimated %v",
					o.Status, o.Usage, tt.wantStatus, tt.wantOut, tt.wantEstimated)
			}
			if tt.wantErr == "" && o.Err != nil || tt.wantErr != "" && (o.Err == nil || !strings.Contains(o.Err.Error(), tt.wantErr)) {
				t.Errorf("outcome error %v, want %q", o.Err, tt.wantErr)
			}
			if o.HTTPStatus != 200 {
				t.Errorf("http_status %d, want the 200 the client got", o.HTTPStatus)
			}
			if o.Usage.OutputTokens == 7 && (o.Usage.InputTokens != 3 || o.Usage.TotalTokens != 10) {
				t.Errorf("usage %+v, want the upstream's report whole", o.Usage)
			}
			if tt.up.closes != 1 {
				t.Errorf("the upstream's stream was closed %d times, want once", tt.up.closes)
			}
		})
	}
}

// A stage that ends the stream while the upstream is still sending gives
// the client less than the upstream made. The upstream bills what it
// made: the usage is what it reported by then, else the estimate of what
// the gateway read from it (the events the stage read and did not pass
// included), flagged; the call is the stage's error, not the upstream's.
func TestStageEndingAStreamEarly(t *testing.T) {
	for _, tt := range []struct {
		name          string
		stopAfter     string // the stage reads up to this event, passes it, then ends the stream
		swallow       int    // events the stage reads and drops before that
		wantOut       int64
		wantEstimated bool
	}{
		{"before the usage", "x", 0, 1, true},
		{"having read more than it passed", "x", 1, 2, true},
		{"after the usage, before the last event", "u=7", 0, 7, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := &upstream{data: []string{"x", "x", "u=7", "x", "end"}}
			stop := func(s core.Stream) core.Stream {
				done, skipped := false, 0
				return core.StreamFunc{NextFunc: func() (*core.Event, error) {
					if done {
						return nil, io.EOF
					}
					for skipped < tt.swallow {
						s.Next()
						skipped++
					}
					ev, err := s.Next()
					if err == nil && string(ev.Data) == tt.stopAfter {
						done = true
					}
					return ev, err
				}, CloseFunc: s.Close}
			}
			r := runStream(t, -1, streamStage(stop), callStage(up))
			if r.end != io.EOF {
				t.Errorf("the client's stream ended with %v, want the clean end the stage gave", r.end)
			}
			o := r.o
			if o.Status != core.StatusError || o.HTTPStatus != 200 || core.AsError(o.Err).Kind != core.KindInternal ||
				!strings.Contains(o.Err.Error(), "a stage ended the stream before the upstream's last event") {
				t.Errorf("outcome %s %d: %v; want the stage's error, with the 200 the client got", o.Status, o.HTTPStatus, o.Err)
			}
			if o.Usage.OutputTokens != tt.wantOut || o.Usage.Estimated != tt.wantEstimated {
				t.Errorf("usage %+v, want %d output tokens, estimated %v", o.Usage, tt.wantOut, tt.wantEstimated)
			}
			if up.closes != 1 {
				t.Errorf("the upstream's stream was closed %d times, want once", up.closes)
			}
		})
	}
}

// The event the gateway asked the upstream for on its own behalf is hidden
// from the client however it reaches the pipeline's exit: as the upstream
// sent it, rewritten in place, or copied into an event a stage made (a
// guardrail holding the stream and replaying it).
func TestGatewaysOwnEventIsHiddenFromTheClient(t *testing.T) {
	copied := each(func(ev *core.Event) *core.Event {
		return &core.Event{Raw: append([]byte(nil), ev.Raw...), Data: append([]byte(nil), ev.Data...)}
	})
	for name, wrap := range map[string]func(core.Stream) core.Stream{
		"passed":               each(func(ev *core.Event) *core.Event { return ev }),
		"rewritten in place":   each(func(ev *core.Event) *core.Event { ev.Raw = append(ev.Raw[:0:0], ev.Raw...); return ev }),
		"copied by a stage":    copied,
		"with no stage at all": nil,
	} {
		t.Run(name, func(t *testing.T) {
			stages := []core.Stage{callStage(&upstream{data: []string{"x", "gw", "u=4", "end"}})}
			if wrap != nil {
				stages = append([]core.Stage{streamStage(wrap)}, stages...)
			}
			r := runStream(t, -1, stages...)
			if got := strings.Join(r.got, ","); got != "x,u=4,end" {
				t.Errorf("the client got %s, want x,u=4,end", got)
			}
			if r.o.Status != core.StatusOK || r.o.Usage.OutputTokens != 4 {
				t.Errorf("outcome %s %+v", r.o.Status, r.o.Usage)
			}
		})
	}
}

// A stream no upstream made — a cache hit, a plugin's answer — is metered
// as it leaves the pipeline, as it was before streams were metered at the
// call stage: the client's events are all there is.
func TestStreamWithoutAnUpstreamIsMeteredAtTheExit(t *testing.T) {
	answer := core.StageFunc(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: &upstream{data: []string{"x", "gw", "u=5", "end"}}}, nil
	})
	r := runStream(t, -1, answer)
	if got := strings.Join(r.got, ","); got != "x,u=5,end" || r.o.Status != core.StatusOK || r.o.Usage.OutputTokens != 5 {
		t.Errorf("the client got %s; outcome %s %+v; want x,u=5,end and ok with 5 output tokens", got, r.o.Status, r.o.Usage)
	}
	// What a stage drops of such a stream is not counted: nothing else saw it.
	r = runStream(t, -1, streamStage(dropData("u=5")), answer)
	if r.o.Usage.OutputTokens != 1 || !r.o.Usage.Estimated {
		t.Errorf("usage %+v, want the 1 estimated token the client's events show", r.o.Usage)
	}
}

// A client that goes away mid-stream is a client abort (499), with what the
// upstream had reported or sent by then; one that leaves after the
// upstream's last event, though a stage held it back, is not.
func TestClientLeavingAMeteredStream(t *testing.T) {
	up := &upstream{data: []string{"x", "u=6", "x", "end"}}
	r := runStream(t, 2, streamStage(dropData("none")), callStage(up))
	if o := r.o; o.Status != core.StatusClientAborted || o.HTTPStatus != 499 || o.Usage.OutputTokens != 6 || up.closes != 1 {
		t.Errorf("outcome %s %d %+v, closed %d times; want a client abort with the 6 tokens reported, closed once", o.Status, o.HTTPStatus, o.Usage, up.closes)
	}
	// A stage holding back the last event: the upstream finished.
	hold := func(s core.Stream) core.Stream {
		return core.StreamFunc{NextFunc: func() (*core.Event, error) {
			ev, err := s.Next()
			if err == nil && string(ev.Data) == "x" {
				s.Next() // reads on to the end before passing the first event
				s.Next()
				s.Next()
			}
			return ev, err
		}, CloseFunc: s.Close}
	}
	up = &upstream{data: []string{"x", "u=6", "x", "end"}}
	r = runStream(t, 1, streamStage(hold), callStage(up))
	if o := r.o; o.Status != core.StatusOK || o.Usage.OutputTokens != 6 || up.closes != 1 {
		t.Errorf("outcome %s %+v, closed %d times; want ok with the 6 tokens reported, closed once", o.Status, o.Usage, up.closes)
	}
}

// A stage that fails or refuses the answer after the upstream's stream
// started (an output guardrail holding the stream) fails the call with
// the tokens the upstream had sent, and the stream is closed.
func TestFailingOnAStreamKeepsWhatTheUpstreamSpent(t *testing.T) {
	for name, stage := range map[string]core.StageFunc{
		"a refusal, the stream closed": func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
			resp, _ := next(ctx, req)
			readToEnd(resp.Stream)
			resp.Stream.Close()
			return nil, core.Errorf(core.KindDenied, "no", "refused")
		},
		"a failure, the stream left open": func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
			resp, _ := next(ctx, req)
			readToEnd(resp.Stream)
			return resp, core.Errorf(core.KindInternal, "broken", "broke")
		},
		"a panic": func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
			resp, _ := next(ctx, req)
			readToEnd(resp.Stream)
			panic("boom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &outcomes{}
			up := &upstream{data: []string{"x", "u=9", "end"}}
			if _, err := newMeterEngine(rec, stage, callStage(up)).Do(context.Background(), &core.Request{Path: "/op"}); err == nil {
				t.Fatal("the call did not fail")
			}
			if len(rec.all) != 1 || rec.all[0].Usage.OutputTokens != 9 || rec.all[0].Usage.InputTokens != 3 {
				t.Fatalf("outcomes %+v, want one with the upstream's 3 and 9 tokens", rec.all)
			}
			if up.closes != 1 {
				t.Errorf("the upstream's stream was closed %d times, want once", up.closes)
			}
		})
	}
}

// Metering a stream where the call stage makes it allocates nothing per
// event: a stream of 100 events costs the allocations of one of 10.
func TestMeteredStreamAllocatesNothingPerEvent(t *testing.T) {
	rec := &outcomes{}
	x := core.Event{Raw: []byte("data: x\n\n"), Data: []byte("x")}
	end := core.Event{Raw: []byte("data: end\n\n"), Data: []byte("end")}
	n := 0
	p := core.NewPipeline([]core.Stage{streamStage(dropData("none")),
		core.StageFunc(func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
			i := 0
			up := core.StreamFunc{NextFunc: func() (*core.Event, error) {
				switch i++; {
				case i < n:
					return &x, nil
				case i == n:
					return &end, nil
				}
				return nil, io.EOF
			}}
			return core.MeterStream(req, &core.Response{Status: 200, Stream: up}), nil
		})}, []core.Completer{rec}, nil)
	eng := core.New(core.WithPipeline(p), core.WithFormats(meterFormat{}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
	allocs := func(events int) float64 {
		n = events
		return testing.AllocsPerRun(50, func() {
			rec.all = rec.all[:0]
			resp, _ := eng.Do(context.Background(), &core.Request{Path: "/op"})
			readToEnd(resp.Stream)
			resp.Stream.Close()
		})
	}
	if a, b := allocs(10), allocs(100); b > a {
		t.Errorf("a stream of 100 events costs %v allocations, one of 10 %v", b, a)
	}
}
