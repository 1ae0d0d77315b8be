package core_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// routeFormat is a minimal wire format: POST /v1/op, model from the query.
type routeFormat struct{ name string }

func (f routeFormat) Name() string { return f.name }
func (f routeFormat) Match(method, path string) (string, bool) {
	return "op", method == http.MethodPost && path == "/v1/op"
}
func (routeFormat) Parse(r *core.Request) {
	q, _ := url.ParseQuery(r.RawQuery)
	r.Model = q.Get("model")
}
func (routeFormat) Validate(*core.Request) *core.Error              { return nil }
func (routeFormat) UpstreamPath(r *core.Request) string             { return r.Path }
func (routeFormat) Authorize(h http.Header, key string)             { h.Set("Authorization", key) }
func (routeFormat) Usage(*core.Request, []byte) (core.Usage, bool)  { return core.Usage{}, false }
func (routeFormat) ObserveStream(*core.Request) core.StreamObserver { return nil }
func (routeFormat) ErrorBody(e *core.Error) []byte                  { return []byte(e.Error()) }

// headerFormat claims POST /v1/op only when its header is present.
type headerFormat struct{ routeFormat }

func (f headerFormat) MatchHeader(method, path string, h http.Header) (string, bool) {
	if h.Get("X-Header-Format") == "" {
		return "", false
	}
	return f.Match(method, path)
}

// answerWith records the upstream each call went to and its query.
type answerWith struct{ upstream, query, path string }

func (a *answerWith) Handle(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
	a.upstream, a.query = req.Upstream.Name, req.RawQuery
	if req.Upstream.BaseURL != nil {
		a.path = req.Upstream.URL(req).String()
	}
	return &core.Response{Status: 200, Body: []byte("ok")}, nil
}

func routeUpstream(name, format string, models ...string) *core.Upstream {
	u := core.NewUpstream(name, format, &url.URL{Scheme: "http", Host: name + ".example"}, "key-"+name, "KEY")
	u.Models = models
	return u
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		header   map[string]string
		wantUp   string
		wantCode int
		wantMsg  string
	}{
		{"default upstream of the format", "/v1/op?model=gpt-4o", nil, "openai", 200, ""},
		{"model pattern", "/v1/op?model=llama-3", nil, "vllm", 200, ""},
		{"route prefix", "/azure-eu/v1/op?model=gpt-4o", nil, "azure-eu", 200, ""},
		{"prefix of an unknown name is not a route", "/nope/v1/op", nil, "", 404, "does not serve"},
		{"header names the upstream", "/v1/op?model=llama-3", map[string]string{"X-Tollgate-Upstream": "azure-eu"}, "azure-eu", 200, ""},
		{"header names an unknown upstream", "/v1/op", map[string]string{"X-Tollgate-Upstream": "mars"}, "", 404,
			`upstream "mars", which is not configured; configured upstreams: anthropic (models claude-*), azure-eu (openai), openai (openai), vllm (models llama-*)`},
		{"header names an upstream of another format", "/v1/op", map[string]string{"X-Tollgate-Upstream": "anthropic"}, "", 400, "upstream \"anthropic\" speaks other"},
		{"header format by header", "/v1/op?model=claude-x", map[string]string{"X-Header-Format": "1"}, "anthropic", 200, ""},
		{"no upstream serves the model", "/v1/op?model=gpt-4o", map[string]string{"X-Header-Format": "1"}, "", 404,
			`no configured upstream serves model "gpt-4o"; other upstreams: anthropic (models claude-*)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := &answerWith{}
			eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{ans}, nil, nil)),
				core.WithFormats(headerFormat{routeFormat{"other"}}, routeFormat{"openai"}),
				core.WithUpstream(routeUpstream("vllm", "openai", "llama-*")),
				core.WithUpstream(routeUpstream("openai", "openai")),
				core.WithUpstream(routeUpstream("azure-eu", "openai")),
				core.WithUpstream(routeUpstream("anthropic", "other", "claude-*")))
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader("{}"))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			eng.Handler().ServeHTTP(w, r)
			body, _ := io.ReadAll(w.Body)
			if w.Code != tt.wantCode || ans.upstream != tt.wantUp {
				t.Fatalf("status %d upstream %q (%s), want %d %q", w.Code, ans.upstream, body, tt.wantCode, tt.wantUp)
			}
			if tt.wantMsg != "" && !strings.Contains(string(body), tt.wantMsg) {
				t.Errorf("body %s\nwant it to say %s", body, tt.wantMsg)
			}
			if tt.wantUp == "azure-eu" && ans.path != "http://azure-eu.example/v1/op?model=gpt-4o" && ans.path != "http://azure-eu.example/v1/op?model=llama-3" {
				t.Errorf("upstream URL %s: the prefix must be taken off", ans.path)
			}
		})
	}
}

func TestKeyQueryNeverReachesStages(t *testing.T) {
	ans := &answerWith{}
	var seen string
	spy := core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		seen = req.RawQuery
		return next(ctx, req)
	})
	eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{spy, ans}, nil, nil)),
		core.WithFormats(routeFormat{"openai"}), core.WithUpstream(routeUpstream("openai", "openai")))

	t.Run("host", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/v1/op?alt=sse&key=AIzaSecret&model=m", strings.NewReader("{}"))
		eng.Handler().ServeHTTP(httptest.NewRecorder(), r)
		if seen != "alt=sse&model=m" || strings.Contains(ans.path, "Secret") {
			t.Errorf("stages saw %q, upstream URL %q", seen, ans.path)
		}
	})
	t.Run("transport", func(t *testing.T) {
		var upstreamQuery string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			upstreamQuery = r.URL.RawQuery
			w.Write([]byte("{}"))
		}))
		defer srv.Close()
		call := core.StageFunc(func(ctx context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
			resp, err := http.Post(req.Upstream.URL(req).String(), "application/json", strings.NewReader("{}"))
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return &core.Response{Status: resp.StatusCode, Body: b}, nil
		})
		eng.Swap(core.NewPipeline([]core.Stage{spy, call}, nil, nil))
		c := &http.Client{Transport: eng.Transport()}
		resp, err := c.Post(srv.URL+"/v1/op?key=AIzaSecret&alt=sse", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if seen != "alt=sse" || upstreamQuery != "alt=sse&key=AIzaSecret" {
			t.Errorf("stages saw %q; upstream got %q, want the client's key", seen, upstreamQuery)
		}
	})
}

// failingFormat's streams report a failure in their last event.
type failingFormat struct{ routeFormat }

type failingObserver struct{ failure string }

func (o *failingObserver) Observe(ev *core.Event, _ *core.Usage) bool {
	if ev.Name == "error" {
		o.failure = string(ev.Data)
	}
	return true
}
func (o *failingObserver) Finished() bool                             { return false }
func (o *failingObserver) Failure() string                            { return o.failure }
func (failingFormat) ObserveStream(*core.Request) core.StreamObserver { return &failingObserver{} }

type recordOutcome struct{ got *core.Outcome }

func (r *recordOutcome) Complete(o *core.Outcome) { r.got = o }

func TestStreamFailureIsAnUpstreamError(t *testing.T) {
	events := []*core.Event{{Name: "delta", Data: []byte("x")}, {Name: "error", Data: []byte("overloaded_error")}}
	answer := core.StageFunc(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		i := 0
		return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
			if i == len(events) {
				return nil, io.EOF
			}
			i++
			return events[i-1], nil
		}}}, nil
	})
	rec := &recordOutcome{}
	eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{answer}, []core.Completer{rec}, nil)),
		core.WithFormats(failingFormat{routeFormat{"openai"}}), core.WithUpstream(routeUpstream("openai", "openai")))
	resp, err := eng.Do(context.Background(), &core.Request{Method: http.MethodPost, Path: "/v1/op", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := resp.Stream.Next(); err != nil {
			break
		}
	}
	resp.Stream.Close()
	if rec.got == nil || rec.got.Status != core.StatusUpstreamError || !strings.Contains(rec.got.Err.Error(), "overloaded_error") {
		t.Errorf("outcome %+v", rec.got)
	}
}
