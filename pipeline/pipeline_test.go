package pipeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// recorder is a test kind whose stages record the order they run in.
type recorder struct {
	name string
	log  *[]string
	fail string // "", "error", "panic", "hang", "deny", "error after", "panic after"
}

func (r *recorder) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	*r.log = append(*r.log, "before "+r.name)
	switch r.fail {
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("kaboom")
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	case "deny":
		return nil, core.Errorf(core.KindDenied, "denied", "no")
	}
	resp, err := next(ctx, req)
	*r.log = append(*r.log, "after "+r.name)
	switch r.fail {
	case "error after":
		return nil, errors.New("boom on the answer")
	case "panic after":
		panic("kaboom on the answer")
	}
	return resp, err
}

var calls []string

func init() {
	pipeline.RegisterKind("test", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		fail, _ := s.Config["fail"].(string)
		return &recorder{name: s.Name, log: &calls, fail: fail}, nil
	})
	pipeline.RegisterBuiltin("answer", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		return core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
			calls = append(calls, "answer")
			return &core.Response{Status: 200}, nil
		}), nil
	})
}

func run(t *testing.T, specs ...pipeline.Spec) ([]string, error) {
	t.Helper()
	calls = nil
	p, err := pipeline.Build(specs, pipeline.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	eng := core.New(core.WithPipeline(p), core.WithFormats(testFormat{}),
		core.WithUpstream(core.NewUpstream("t", "test", nil, "", "")))
	_, err = eng.Do(context.Background(), &core.Request{Path: "/test"})
	return calls, err
}

func TestFirstListedIsOutermost(t *testing.T) {
	got, err := run(t,
		pipeline.Spec{Name: "a", Kind: "test"},
		pipeline.Spec{Name: "b", Kind: "test"},
		pipeline.Spec{Name: "answer", Kind: "builtin"})
	if err != nil {
		t.Fatal(err)
	}
	want := "before a,before b,answer,after b,after a"
	if strings.Join(got, ",") != want {
		t.Errorf("order = %v, want %s", got, want)
	}
}

func TestOnError(t *testing.T) {
	tests := []struct {
		name     string
		fail     string
		onError  string
		timeout  time.Duration
		wantKind core.Kind // 0 with wantOK
		wantOK   bool
	}{
		{"error fails closed", "error", "fail_closed", 0, core.KindInternal, false},
		{"error fails open", "error", "fail_open", 0, 0, true},
		{"panic fails closed", "panic", "", 0, core.KindInternal, false},
		{"panic fails open", "panic", "fail_open", 0, 0, true},
		{"timeout fails closed with 504", "hang", "fail_closed", 20 * time.Millisecond, core.KindTimeout, false},
		{"timeout fails open", "hang", "fail_open", 20 * time.Millisecond, 0, true},
		{"a denial is an answer, not a failure", "deny", "fail_open", 0, core.KindDenied, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t,
				pipeline.Spec{Name: "s", Kind: "test", OnError: tt.onError, Timeout: tt.timeout, Config: map[string]any{"fail": tt.fail}},
				pipeline.Spec{Name: "answer", Kind: "builtin"})
			if tt.wantOK {
				if err != nil {
					t.Fatalf("want the call to go on, got %v", err)
				}
				return
			}
			var e *core.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind {
				t.Fatalf("want kind %v, got %v", tt.wantKind, err)
			}
			if tt.wantKind != core.KindDenied && e.Stage != "s" {
				t.Errorf("error does not name the stage: %+v", e)
			}
		})
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, err := pipeline.Build([]pipeline.Spec{
		{Name: "", Kind: "test"},
		{Name: "x", Kind: "nope"},
		{Name: "x", Kind: "test"},
		{Name: "missing", Kind: "builtin"},
		{Name: "y", Kind: "test", OnError: "sometimes"},
	}, pipeline.Env{})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"pipeline[0]: name: required",
		`pipeline[1] (x): unknown kind "nope": known kinds are builtin`,
		`pipeline[2] (x): name: "x" is already used by pipeline[1]`,
		`pipeline[3] (missing): unknown builtin stage "missing"`,
		`pipeline[4] (y): on_error: want fail_open or fail_closed, got "sometimes"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDecodeNamesTheBadKey(t *testing.T) {
	var cfg struct {
		TTL   pipeline.Duration `json:"ttl"`
		Count int               `json:"count"`
	}
	tests := []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"tll": "5s"}, `pipeline[2] (cache): config: unknown key "tll"`},
		{map[string]any{"count": "many"}, `count: want a whole number, got "many"`},
		{map[string]any{"ttl": "soon"}, `want a duration like "30s", got "soon"`},
	}
	for _, tt := range tests {
		err := pipeline.Spec{Name: "cache", Index: 2, Config: tt.config}.Decode(&cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%v) = %v, want %q", tt.config, err, tt.want)
		}
	}
}

// testFormat is a minimal wire format for pipeline tests.
type testFormat struct{}

func (testFormat) Name() string                                    { return "test" }
func (testFormat) Match(_, path string) (string, bool)             { return "test", path == "/test" }
func (testFormat) Parse(*core.Request)                             {}
func (testFormat) Validate(*core.Request) *core.Error              { return nil }
func (testFormat) UpstreamPath(r *core.Request) string             { return r.Path }
func (testFormat) Authorize(http.Header, string)                   {}
func (testFormat) Usage(*core.Request, []byte) (core.Usage, bool)  { return core.Usage{}, false }
func (testFormat) ObserveStream(*core.Request) core.StreamObserver { return nil }
func (testFormat) ErrorBody(e *core.Error) []byte                  { return []byte(e.Error()) }

// meter is a completer that keeps the last outcome's usage.
type meter struct{ usage *core.Usage }

func (m meter) Complete(o *core.Outcome) { *m.usage = o.Usage }
func (meter) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	return next(ctx, req)
}

// A stage that fails on the upstream's answer, closed, fails the call; the
// tokens the upstream spent on that answer are still metered.
func TestAFailureAfterTheAnswerKeepsItsUsage(t *testing.T) {
	var got core.Usage
	pipeline.RegisterKind("meter", func(pipeline.Spec, pipeline.Env) (any, error) { return meter{&got}, nil })
	pipeline.RegisterBuiltin("spend", func(pipeline.Spec, pipeline.Env) (any, error) {
		return core.StageFunc(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
			return &core.Response{Status: 200, Usage: core.Usage{InputTokens: 8, OutputTokens: 7}, UsageKnown: true}, nil
		}), nil
	})
	for _, fail := range []string{"error after", "panic after"} {
		got = core.Usage{}
		p, err := pipeline.Build([]pipeline.Spec{{Name: "meter", Kind: "meter"},
			{Name: "s", Kind: "test", OnError: "fail_closed", Config: map[string]any{"fail": fail}},
			{Name: "spend", Kind: "builtin"}}, pipeline.Env{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		eng := core.New(core.WithPipeline(p), core.WithFormats(testFormat{}), core.WithUpstream(core.NewUpstream("t", "test", nil, "", "")))
		if _, err := eng.Do(context.Background(), &core.Request{Path: "/test"}); err == nil {
			t.Fatalf("%s: the call did not fail", fail)
		}
		if got.InputTokens != 8 || got.OutputTokens != 7 {
			t.Errorf("%s: metered %+v, want the 8 and 7 tokens the upstream spent", fail, got)
		}
	}
}

// streamFormat is testFormat whose streams are metered: "end" is the last
// event.
type streamFormat struct{ testFormat }

func (streamFormat) ObserveStream(*core.Request) core.StreamObserver { return &endObserver{} }

type endObserver struct{ done bool }

func (o *endObserver) Observe(ev *core.Event, _ *core.Usage) bool {
	o.done = o.done || string(ev.Data) == "end"
	return true
}
func (o *endObserver) Finished() bool { return o.done }

// A stage that fails closed on a streamed answer fails the call, and the
// upstream's stream is closed once: the guard passes it on beside the
// failure, and the engine closes it. One that fails open passes the
// stream to the client, who closes it.
func TestAFailureOnAStreamClosesItOnce(t *testing.T) {
	var closes int
	pipeline.RegisterBuiltin("stream", func(pipeline.Spec, pipeline.Env) (any, error) {
		return core.StageFunc(func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
			i := 0
			s := core.StreamFunc{NextFunc: func() (*core.Event, error) {
				if i++; i > 1 {
					return nil, io.EOF
				}
				return &core.Event{Raw: []byte("data: end\n\n"), Data: []byte("end")}, nil
			}, CloseFunc: func() error { closes++; return nil }}
			return core.MeterStream(req, &core.Response{Status: 200, Stream: s}), nil
		}), nil
	})
	for _, tt := range []struct{ fail, onError string }{
		{"error after", pipeline.FailClosed}, {"panic after", pipeline.FailClosed},
		{"error after", pipeline.FailOpen}, {"panic after", pipeline.FailOpen},
	} {
		t.Run(tt.fail+", "+tt.onError, func(t *testing.T) {
			closes = 0
			p, err := pipeline.Build([]pipeline.Spec{{Name: "s", Kind: "test", OnError: tt.onError, Config: map[string]any{"fail": tt.fail}},
				{Name: "stream", Kind: "builtin"}}, pipeline.Env{Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			eng := core.New(core.WithPipeline(p), core.WithFormats(streamFormat{}), core.WithUpstream(core.NewUpstream("t", "test", nil, "", "")))
			resp, err := eng.Do(context.Background(), &core.Request{Path: "/test"})
			if (err == nil) != (tt.onError == pipeline.FailOpen) {
				t.Fatalf("call error %v with %s", err, tt.onError)
			}
			if resp != nil {
				for _, err := resp.Stream.Next(); err == nil; _, err = resp.Stream.Next() {
				}
				resp.Stream.Close()
			}
			if closes != 1 {
				t.Errorf("the upstream's stream was closed %d times, want once", closes)
			}
		})
	}
}
