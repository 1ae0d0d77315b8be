package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// The ABI v1 conformance suite. It runs against two plugins with the same
// behaviour: one built with the Go SDK, one written by hand in the
// WebAssembly text format without any SDK — the proof that ABI v1 can be
// implemented from docs/plugin-abi.md in any language.
var conformancePlugins = []string{"conformance-go.wasm", "conformance-wat.wasm"}

func TestConformance(t *testing.T) {
	for _, name := range conformancePlugins {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			logs := &logbuf.Buffer{}
			p := open(t, name, nil, WithDeliverer(rec),
				WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			if got := strings.Join(p.Hooks(), ","); got != "request,response,stream_event,usage" {
				t.Fatalf("hooks = %s", got)
			}
			stage := NewStage(p, "conf", upstreams)
			run := func(model string) (*core.Request, *core.Response, error, bool) {
				req := request(model)
				called := false
				resp, err := stage.Handle(context.Background(), req, func(ctx context.Context, r *core.Request) (*core.Response, error) {
					called = true
					return echo(ctx, r)
				})
				return req, resp, err, called
			}
			t.Run("continue", func(t *testing.T) {
				req, resp, err, called := run("gpt-4o")
				if err != nil || !called || req.BodyChanged() || string(resp.Body) != string(request("gpt-4o").Body) {
					t.Fatalf("err=%v called=%v changed=%v", err, called, req.BodyChanged())
				}
			})
			t.Run("deny", func(t *testing.T) {
				_, _, err, called := run("conf-deny")
				var e *core.Error
				if !errors.As(err, &e) || e.Kind != core.KindDenied || e.HTTPStatus() != 403 || e.Code != "conformance" ||
					e.Message != "denied by conformance plugin" || e.Stage != "conf" || called {
					t.Fatalf("err = %#v, called = %v", err, called)
				}
			})
			t.Run("respond", func(t *testing.T) {
				_, resp, err, called := run("conf-respond")
				if err != nil || called || resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
					t.Fatalf("resp = %+v, err = %v, called = %v", resp, err, called)
				}
			})
			t.Run("set model", func(t *testing.T) {
				req, resp, err, _ := run("conf-model")
				if err != nil || req.Model != "conf-rewritten" || !strings.Contains(string(resp.Body), `"model":"conf-rewritten"`) ||
					!strings.Contains(string(resp.Body), `"messages":[{"role":"user","content":"hello"}]`) {
					t.Fatalf("model = %q, body = %s, err = %v", req.Model, resp.Body, err)
				}
			})
			t.Run("route", func(t *testing.T) {
				_, resp, err, _ := run("conf-route")
				if err != nil || resp.Header.Get("X-Upstream") != "secondary" {
					t.Fatalf("upstream = %q, err = %v", resp.Header.Get("X-Upstream"), err)
				}
			})
			t.Run("replace body", func(t *testing.T) {
				req, resp, err, _ := run("conf-body")
				if err != nil || req.Model != "conf-body2" || !strings.Contains(string(resp.Body), `"content":"replaced"`) {
					t.Fatalf("model = %q, body = %s, err = %v", req.Model, resp.Body, err)
				}
			})
			t.Run("metadata", func(t *testing.T) {
				req, _, err, _ := run("conf-meta")
				if err != nil || req.Metadata["conformance"] != "yes" || req.Metadata["team"] != "ml" {
					t.Fatalf("metadata = %v, err = %v", req.Metadata, err)
				}
			})
			t.Run("fail", func(t *testing.T) {
				_, _, err, called := run("conf-fail")
				var e *core.Error
				if !errors.As(err, &e) || e.Code != "plugin_failed" || !strings.Contains(e.Message, "conformance failure") || called {
					t.Fatalf("err = %v", err)
				}
			})
			t.Run("config", func(t *testing.T) {
				_, resp, err, _ := run("conf-config")
				var got map[string]any
				if err != nil || json.Unmarshal(resp.Body, &got) != nil || got["greeting"] != "hi" || got["n"] != 3.0 {
					t.Fatalf("body = %s, err = %v", resp.Body, err)
				}
			})
			t.Run("log", func(t *testing.T) {
				if _, _, err, _ := run("conf-log"); err != nil {
					t.Fatal(err)
				}
				if l := logs.String(); !strings.Contains(l, "hello from the conformance plugin") || !strings.Contains(l, "id=req-1") {
					t.Fatalf("log = %s", l)
				}
			})
			t.Run("deliver to an allowed destination", func(t *testing.T) {
				before := len(rec.all())
				_, resp, err, _ := run("conf-deliver")
				got := rec.all()
				if err != nil || string(resp.Body) != `{"code":0}` || len(got) != before+1 ||
					got[before].dest != "https://allowed.example/ingest" || got[before].payload != `{"conformance":"payload"}` {
					t.Fatalf("resp = %s, err = %v, delivered = %v", resp.Body, err, got)
				}
			})
			t.Run("deliver to a destination not allowed", func(t *testing.T) {
				before := len(rec.all())
				_, resp, err, _ := run("conf-deliver-denied")
				if err != nil || string(resp.Body) != `{"code":-1}` || len(rec.all()) != before {
					t.Fatalf("resp = %s, err = %v", resp.Body, err)
				}
				if !strings.Contains(logs.String(), `destination \"https://denied.example/ingest\" is not on the plugin's deliver_to allow-list`) {
					t.Fatalf("log = %s", logs.String())
				}
			})
			t.Run("emit", func(t *testing.T) {
				before := len(rec.all())
				_, resp, err, _ := run("conf-emit")
				got := rec.all()
				if err != nil || string(resp.Body) != `{"code":0}` || len(got) != before+1 || got[before].dest != "sink:audit" {
					t.Fatalf("resp = %s, err = %v, delivered = %v", resp.Body, err, got)
				}
			})
			t.Run("response hook", func(t *testing.T) {
				req := request("gpt-4o")
				resp, err := stage.Handle(context.Background(), req, func(context.Context, *core.Request) (*core.Response, error) {
					return &core.Response{Status: 200, Body: []byte(`{"text":"conf-resp-rewrite"}`)}, nil
				})
				if err != nil || string(resp.Body) != `{"rewritten":true}` {
					t.Fatalf("resp = %s, err = %v", resp.Body, err)
				}
			})
			t.Run("stream events", func(t *testing.T) {
				req := request("gpt-4o")
				events := []string{`{"n":1}`, `{"x":"conf-drop"}`, `{"x":"conf-upper"}`, `[DONE]`}
				resp, err := stage.Handle(context.Background(), req, func(context.Context, *core.Request) (*core.Response, error) {
					i := 0
					return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
						if i == len(events) {
							return nil, io.EOF
						}
						i++
						return &core.Event{Data: []byte(events[i-1]), Raw: abi.EncodeEvent("", []byte(events[i-1]))}, nil
					}}}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for {
					ev, err := resp.Stream.Next()
					if err != nil {
						break
					}
					got = append(got, string(ev.Raw))
				}
				want := "data: {\"n\":1}\n\n|data: CONF\n\n|data: [DONE]\n\n"
				if strings.Join(got, "|") != want {
					t.Fatalf("events = %q", got)
				}
			})
			t.Run("usage sink", func(t *testing.T) {
				sink := &sinkView{p}
				before := len(rec.all())
				events := []*core.UsageEvent{core.NewUsageEvent(&core.Outcome{Request: request("gpt-4o"), Status: core.StatusOK, HTTPStatus: 200,
					Usage: core.Usage{InputTokens: 10, OutputTokens: 5}, Latency: time.Millisecond})}
				if err := sink.Write(context.Background(), events); err != nil {
					t.Fatal(err)
				}
				got := rec.all()
				if len(got) != before+1 || got[before].dest != "https://allowed.example/usage" || !strings.Contains(got[before].payload, `"input_tokens":10`) {
					t.Fatalf("delivered = %v", got[before:])
				}
				events[0].Model = "conf-usage-fail"
				err := sink.Write(context.Background(), events)
				if err == nil || !strings.Contains(err.Error(), "usage refused by conformance plugin") {
					t.Fatalf("err = %v", err)
				}
			})
		})
	}
}

// sinkView is the plugin seen as a sink, without handing it ownership.
type sinkView struct{ p *Plugin }

func (s *sinkView) Write(ctx context.Context, events []*core.UsageEvent) error {
	return NewSink(s.p).Write(ctx, events)
}
