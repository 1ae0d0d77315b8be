package pluginhost

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// fakeCaller answers each hook with a fixed action or error and records
// the hooks it was called with.
type fakeCaller struct {
	mu      sync.Mutex
	answers map[int]abi.Action
	err     error
	calls   []int
	closed  bool
}

func (f *fakeCaller) Call(_ context.Context, hook int, in *abi.Input) (abi.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, hook)
	if f.err != nil {
		return abi.Action{}, f.err
	}
	if a, ok := f.answers[hook]; ok {
		return a, nil
	}
	return abi.Action{Action: abi.ActContinue}, nil
}

func (f *fakeCaller) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func request() *core.Request {
	return &core.Request{ID: "r1", Model: "gpt-4o", Header: http.Header{}, Body: []byte(`{"model":"gpt-4o"}`)}
}

// answer is the terminal handler: it echoes the model it got.
func answer(_ context.Context, req *core.Request) (*core.Response, error) {
	return &core.Response{Status: 200, Header: http.Header{"X-Model": {req.Model}}, Body: []byte(`{"ok":true}`)}, nil
}

func TestStageRequestHook(t *testing.T) {
	model := "small"
	tests := []struct {
		name      string
		action    abi.Action
		wantModel string // what reached next; "" if next was not called
		wantCode  string // the error's code; "" for none
		wantBody  string // the answer's body
	}{
		{"plain continue", abi.Action{Action: abi.ActContinue}, "gpt-4o", "", `{"ok":true}`},
		{"model change", abi.Action{Action: abi.ActContinue, Model: &model}, "small", "", `{"ok":true}`},
		{"deny", abi.Action{Action: abi.ActDeny, Code: "no", Message: "refused"}, "", "no", ""},
		{"respond", abi.Action{Action: abi.ActRespond, Body: []byte(`{"cached":1}`)}, "", "", `{"cached":1}`},
		{"fail", abi.Action{Action: abi.ActFail, Message: "broken"}, "", "plugin_failed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCaller{answers: map[int]abi.Action{abi.HookRequest: tt.action}}
			stage := NewStage(Plugin{Caller: f, Name: "p", Hooks: abi.HookRequest, Log: quiet()}, nil)
			reached := ""
			resp, err := stage.Handle(context.Background(), request(), func(ctx context.Context, req *core.Request) (*core.Response, error) {
				reached = req.Model
				return answer(ctx, req)
			})
			var ce *core.Error
			switch {
			case tt.wantCode != "":
				if !errors.As(err, &ce) || ce.Code != tt.wantCode || ce.Stage != "p" {
					t.Fatalf("err = %v, want code %s from stage p", err, tt.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			case string(resp.Body) != tt.wantBody:
				t.Fatalf("body = %s, want %s", resp.Body, tt.wantBody)
			}
			if reached != tt.wantModel {
				t.Fatalf("next got model %q, want %q", reached, tt.wantModel)
			}
		})
	}
}

func TestStageResponseHook(t *testing.T) {
	f := &fakeCaller{answers: map[int]abi.Action{abi.HookResponse: {Action: abi.ActContinue, Body: []byte(`{"rewritten":true}`)}}}
	stage := NewStage(Plugin{Caller: f, Name: "p", Hooks: abi.HookRequest | abi.HookResponse}, nil)
	resp, err := stage.Handle(context.Background(), request(), answer)
	if err != nil || string(resp.Body) != `{"rewritten":true}` {
		t.Fatalf("resp %v, err %v", resp, err)
	}
	if len(f.calls) != 2 || f.calls[0] != abi.HookRequest || f.calls[1] != abi.HookResponse {
		t.Fatalf("hooks called: %v", f.calls)
	}
}

// events is a stream of server-sent events.
type events struct{ evs []*core.Event }

func (e *events) Next() (*core.Event, error) {
	if len(e.evs) == 0 {
		return nil, io.EOF
	}
	ev := e.evs[0]
	e.evs = e.evs[1:]
	return ev, nil
}

func (e *events) Close() error { return nil }

func TestStageStreamEvents(t *testing.T) {
	stream := func(context.Context, *core.Request) (*core.Response, error) {
		ping := &core.Event{Raw: []byte(": ping\n\n")} // a keep-alive comment: no name, no data
		return &core.Response{Status: 200, Stream: &events{[]*core.Event{ping, {Data: []byte("a")}, {Data: []byte("b")}}}}, nil
	}
	read := func(s core.Stream) []string {
		var got []string
		for {
			ev, err := s.Next()
			if err != nil {
				return got
			}
			if ev.Data == nil {
				got = append(got, string(ev.Raw[:6])) // passed as it was, hook or not
				continue
			}
			got = append(got, string(ev.Data))
		}
	}
	data := "X"
	for _, tt := range []struct {
		name   string
		caller *fakeCaller
		want   string
	}{
		{"rewrite", &fakeCaller{answers: map[int]abi.Action{abi.HookStreamEvent: {Action: abi.ActContinue, Data: &data}}}, ": ping,X,X"},
		{"drop", &fakeCaller{answers: map[int]abi.Action{abi.HookStreamEvent: {Action: abi.ActDrop}}}, ": ping"},
		// Once the answer has started, a failing hook passes the event.
		{"failing hook", &fakeCaller{err: errors.New("trap")}, ": ping,a,b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stage := NewStage(Plugin{Caller: tt.caller, Name: "p", Hooks: abi.HookStreamEvent, Log: quiet()}, nil)
			resp, err := stage.Handle(context.Background(), request(), stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(read(resp.Stream), ","); got != tt.want {
				t.Fatalf("events %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSink(t *testing.T) {
	f := &fakeCaller{answers: map[int]abi.Action{abi.HookUsage: {Action: abi.ActFail, Message: "endpoint down"}}}
	sink := NewSink(Plugin{Caller: f, Name: "vendor", Hooks: abi.HookUsage})
	if err := sink.Write(context.Background(), nil); err != nil || len(f.calls) != 0 {
		t.Fatalf("an empty batch: err %v, calls %v", err, f.calls)
	}
	err := sink.Write(context.Background(), []*core.UsageEvent{{ID: "e1"}})
	if err == nil || !strings.Contains(err.Error(), "endpoint down") {
		t.Fatalf("a fail answer: err = %v", err)
	}
	sink.Close()
	if !f.closed {
		t.Fatal("Close did not close the plugin")
	}
}

// TestKindRefusesTheWrongRole checks the registration's refusals: a plugin
// without a stage hook configured as a stage, and one without the usage
// hook configured as a sink, are closed and refused with what to do.
func TestKindRefusesTheWrongRole(t *testing.T) {
	type config struct {
		Hooks int `json:"hooks"`
	}
	var opened []*fakeCaller
	k := Kind[config]{Name: "fake", Open: func(_ context.Context, name string, cfg config, _ pipeline.Env, sink bool) (Plugin, error) {
		if cfg.Hooks < 0 {
			return Plugin{}, errors.New("cannot load")
		}
		f := &fakeCaller{}
		opened = append(opened, f)
		return Plugin{Caller: f, Name: name, Hooks: cfg.Hooks}, nil
	}}
	_, err := k.newStage(pipeline.Spec{Name: "s", Kind: "fake", Config: map[string]any{"hooks": abi.HookUsage}, Index: 2}, pipeline.Env{})
	if err == nil || err.Error() != "pipeline[2] (s): the plugin serves hooks [usage] but no stage hook (request, response, stream_event): configure it as a sink of a track stage ({type: fake, ...})" {
		t.Fatalf("stage without stage hooks: %v", err)
	}
	_, err = k.newSink(pipeline.SinkSpec{Type: "fake", Config: map[string]any{"hooks": abi.HookRequest}, Path: "sinks[0]"}, pipeline.Env{})
	if err == nil || err.Error() != "sinks[0]: the plugin serves hooks [request] but not usage: a sink needs a usage hook (sdk.OnUsage); use it as a stage of kind fake instead" {
		t.Fatalf("sink without usage: %v", err)
	}
	for i, f := range opened {
		if !f.closed {
			t.Errorf("refused plugin %d was not closed", i)
		}
	}
	if _, err := k.newStage(pipeline.Spec{Name: "s", Config: map[string]any{"hooks": -1}}, pipeline.Env{}); err == nil || !strings.HasPrefix(err.Error(), "pipeline[0] (s): cannot load") {
		t.Fatalf("a load failure: %v", err)
	}
	if _, err := k.newStage(pipeline.Spec{Name: "s", Config: map[string]any{"hookz": 1}}, pipeline.Env{}); err == nil || !strings.Contains(err.Error(), "hookz") {
		t.Fatalf("an unknown key: %v", err)
	}
	st, err := k.newStage(pipeline.Spec{Name: "s", Config: map[string]any{"hooks": abi.HookRequest}}, pipeline.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*Stage); !ok {
		t.Fatalf("stage is %T", st)
	}
}

// The upstream has spent its tokens once it answers: whatever the
// response hook does with the answer — rewrite it, replace it, refuse it,
// or fail — the engine still gets the upstream's usage to meter.
func TestStageResponseHookKeepsTheUpstreamsUsage(t *testing.T) {
	used := core.Usage{InputTokens: 8, OutputTokens: 7}
	upstream := func(context.Context, *core.Request) (*core.Response, error) {
		return &core.Response{Status: 200, Header: http.Header{}, Body: []byte(`{"ok":true}`), Usage: used, UsageKnown: true}, nil
	}
	for name, tt := range map[string]struct {
		action  abi.Action
		err     error
		wantErr bool
	}{
		"rewrite": {action: abi.Action{Action: abi.ActContinue, Body: []byte(`{"rewritten":true}`)}},
		"respond": {action: abi.Action{Action: abi.ActRespond, Body: []byte(`{"replaced":true}`)}},
		"deny":    {action: abi.Action{Action: abi.ActDeny, Code: "no", Message: "refused"}, wantErr: true},
		"fail":    {action: abi.Action{Action: abi.ActFail, Message: "broken"}, wantErr: true},
		"trap":    {err: errors.New("wasm error: unreachable"), wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeCaller{answers: map[int]abi.Action{abi.HookResponse: tt.action}, err: tt.err}
			stage := NewStage(Plugin{Caller: f, Name: "p", Hooks: abi.HookResponse, Log: quiet()}, nil)
			resp, err := stage.Handle(context.Background(), request(), upstream)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want an error: %v", err, tt.wantErr)
			}
			if resp == nil || resp.Usage != used || !resp.UsageKnown {
				t.Fatalf("the answer the engine meters: %+v, want the upstream's usage %+v", resp, used)
			}
		})
	}
}
