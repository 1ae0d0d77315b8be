package core_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

func okAnswer(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
	return &core.Response{Status: 200, Header: http.Header{}, Body: []byte("ok")}, nil
}

func TestPanicInAStageFailsOnlyThatCall(t *testing.T) {
	rec := &outcomes{}
	var n atomic.Int32
	eng := newEngine(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return okAnswer(ctx, r, next)
	}, rec)
	srv := httptest.NewServer(eng.Handler())
	defer srv.Close()
	for i, want := range []int{500, 200} {
		resp, err := http.Post(srv.URL+"/op", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("call %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	if len(rec.all) != 2 || rec.all[0].Status != core.StatusError || rec.all[0].HTTPStatus != 500 {
		t.Errorf("outcomes %+v", rec.all)
	}
}

func TestPanicInAStreamEndsThatStream(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) { panic("boom") }}}, nil
	}, rec)
	resp, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Stream.Next(); !errors.Is(err, &core.Error{Kind: core.KindInternal}) && err == nil {
		t.Fatalf("Next = %v", err)
	}
	resp.Stream.Close()
	// The client got the 200 status line before the stage failed.
	if len(rec.all) != 1 || rec.all[0].Status != core.StatusError || rec.all[0].HTTPStatus != 200 {
		t.Errorf("outcomes %+v", rec.all)
	}
}

// spanObserver counts calls and passes a marker through the context.
type spanObserver struct {
	started, completed atomic.Int32
	sawMarker          atomic.Bool
}

type markerKey struct{}

func (o *spanObserver) StartCall(ctx context.Context, _ *core.Request) context.Context {
	o.started.Add(1)
	return core.WithHeaderInjector(context.WithValue(ctx, markerKey{}, true), o)
}
func (o *spanObserver) Complete(out *core.Outcome) {
	o.completed.Add(1)
	if out.Context != nil && out.Context.Value(markerKey{}) == true {
		o.sawMarker.Store(true)
	}
}
func (o *spanObserver) InjectHeader(_ context.Context, h http.Header) { h.Set("Traceparent", "00-x") }

func TestObserversSeeEveryCallAndInjectHeaders(t *testing.T) {
	obs := &spanObserver{}
	var injected string
	answer := core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		h := http.Header{}
		core.InjectHeaders(ctx, h)
		injected = h.Get("Traceparent")
		return okAnswer(ctx, r, next)
	})
	eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{answer}, nil, nil)), core.WithFormats(fakeFormat{}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")), core.WithObserver(obs))
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if obs.started.Load() != 1 || obs.completed.Load() != 1 || !obs.sawMarker.Load() || injected != "00-x" {
		t.Errorf("started %d completed %d marker %v injected %q", obs.started.Load(), obs.completed.Load(), obs.sawMarker.Load(), injected)
	}
	// Without an observer, InjectHeaders does nothing.
	h := http.Header{}
	core.InjectHeaders(context.Background(), h)
	if len(h) != 0 {
		t.Errorf("headers %v", h)
	}
}

func TestCloseWaitsForCallsInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	var closed atomic.Bool
	slow := core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		close(entered)
		<-release
		return okAnswer(ctx, r, next)
	})
	old := core.NewPipeline([]core.Stage{slow}, nil, func(context.Context) error { closed.Store(true); return nil })
	eng := core.New(core.WithPipeline(old), core.WithFormats(fakeFormat{}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
	done := make(chan error, 1)
	go func() {
		_, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")})
		done <- err
	}()
	<-entered
	eng.Swap(core.NewPipeline([]core.Stage{core.StageFunc(okAnswer)}, nil, nil))
	closeDone := make(chan error, 1)
	go func() { closeDone <- old.Close(context.Background()) }()
	// New calls go to the new pipeline while the old one drains.
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closeDone:
		t.Fatal("Close returned while a call was in flight")
	default:
	}
	if closed.Load() || old.InFlight() != 1 {
		t.Fatalf("closed %v in flight %d", closed.Load(), old.InFlight())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closeDone; err != nil || !closed.Load() {
		t.Fatalf("Close = %v, closed %v", err, closed.Load())
	}
}

func TestCloseGivesUpAtTheDeadline(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: events(3)}, nil
	}, rec)
	resp, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	eng.Close(ctx) // the stream is never drained: Close returns at the deadline
	if ctx.Err() == nil {
		t.Error("Close returned before the deadline with a stream open")
	}
	io.Copy(io.Discard, strings.NewReader(""))
	resp.Stream.Close()
}

// keys is an authenticator over a fixed table.
type keys map[string]*core.Principal

func (k keys) Authenticate(_ context.Context, cred string) (*core.Principal, error) {
	if p, ok := k[cred]; ok {
		return p, nil
	}
	return nil, &core.Error{Kind: core.KindAuth, Code: "invalid_api_key", Message: "unknown key"}
}

func TestAuthenticator(t *testing.T) {
	rec := &outcomes{}
	var seen *core.Request
	answer := core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		seen = r
		return okAnswer(ctx, r, next)
	})
	ks := keys{
		"tg-good":  {KeyID: "k1", Customer: "acme", Metadata: map[string]string{"team": "ml"}},
		"tg-other": {KeyID: "k2", Models: []string{"gpt-*"}},
	}
	eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{answer}, []core.Completer{rec}, nil)),
		core.WithFormats(fakeFormat{}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")), core.WithAuthenticator(ks))
	srv := httptest.NewServer(eng.Handler())
	defer srv.Close()
	tests := []struct {
		name   string
		header map[string]string
		query  string
		want   int
	}{
		{"bearer", map[string]string{"Authorization": "Bearer tg-good", "X-Tollgate-Customer": "mallory"}, "", 200},
		{"x-api-key", map[string]string{"X-Api-Key": "tg-good"}, "", 200},
		{"api-key", map[string]string{"Api-Key": "tg-good"}, "", 200},
		{"x-goog-api-key", map[string]string{"X-Goog-Api-Key": "tg-good"}, "", 200},
		{"authorization first", map[string]string{"Authorization": "Bearer sk-provider", "X-Api-Key": "tg-good"}, "", 401},
		{"x-api-key before api-key", map[string]string{"X-Api-Key": "tg-good", "Api-Key": "sk-provider"}, "", 200},
		{"raw authorization", map[string]string{"Authorization": "tg-good"}, "", 200},
		{"empty authorization", map[string]string{"Authorization": "", "X-Goog-Api-Key": "tg-good"}, "", 200},
		{"header before query", map[string]string{"X-Api-Key": "sk-provider"}, "?key=tg-good", 401},
		{"query key", nil, "?key=tg-good", 200},
		{"no key", nil, "", 401},
		{"unknown key", map[string]string{"Authorization": "Bearer sk-provider"}, "", 401},
		{"model not allowed", map[string]string{"Authorization": "Bearer tg-other"}, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/op"+tt.query, strings.NewReader("{}"))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != 200 {
				if seen != nil {
					t.Error("a refused call reached a stage")
				}
				return
			}
			if seen.Customer != "acme" || seen.Metadata["team"] != "ml" || seen.Principal.KeyID != "k1" {
				t.Errorf("customer %q metadata %v principal %+v", seen.Customer, seen.Metadata, seen.Principal)
			}
			if seen.Header.Get("Authorization") != "" || seen.Header.Get("X-Api-Key") != "" || strings.Contains(seen.RawQuery, "tg-good") {
				t.Error("the key reached a stage")
			}
		})
	}
}

// A stage that ends a stream with a denial, after its closing event, is a
// denial even when the client has hung up by the time the engine records
// it (it read the closing event and left): not a client abort.
func TestStreamDenialAfterTheClientLeftIsADenial(t *testing.T) {
	rec := &outcomes{}
	ctx, cancel := context.WithCancel(context.Background())
	eng := newEngine(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
			cancel() // the client read the closing event and went away
			return nil, &core.Error{Kind: core.KindDenied, Code: "policy_denied", Message: "withheld"}
		}}}, nil
	}, rec)
	resp, err := eng.Do(ctx, &core.Request{Path: "/op", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	resp.Stream.Next()
	resp.Stream.Close()
	if len(rec.all) != 1 || rec.all[0].Status != core.StatusDenied {
		t.Errorf("outcomes %+v; want one with status denied", rec.all)
	}
}
