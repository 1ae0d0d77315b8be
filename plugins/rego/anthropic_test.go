package rego_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/anthropic"
)

// The shipped guardrails on an Anthropic call: the cap patches the format's
// own field, a denial comes back in Anthropic's error shape, and a stream
// cut in event mode ends with Anthropic's error event.
func TestGuardrailsOnAnthropic(t *testing.T) {
	up := &upstream{}
	parts.Store(t.Name()+"/up", up)
	p, err := pipeline.Build([]pipeline.Spec{
		{Name: "guardrails", Kind: "rego", Config: map[string]any{"paths": []any{"../../policies/guardrails"}, "phase": "both",
			"data": map[string]any{"tollgate": map[string]any{"config": map[string]any{"max_tokens": map[string]any{"default": 256}}}}}},
		{Name: t.Name() + "/up", Kind: "test"},
	}, pipeline.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	f := anthropic.New()
	eng := core.New(core.WithPipeline(p), core.WithFormats(f), core.WithUpstream(core.NewUpstream("anthropic", "anthropic", nil, "", "")))
	do := func(body string) (*core.Response, error) {
		return eng.Do(context.Background(), &core.Request{Path: "/v1/messages", Body: []byte(body)})
	}

	up.body = `{"type":"message","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":3,"output_tokens":1}}`
	if _, err := do(`{"model":"claude-3-5-haiku-latest","max_tokens":4096,"system":"be brief","messages":[{"role":"user","content":"hi"}]}`); err != nil {
		t.Fatal(err)
	}
	if got := up.last(); !strings.Contains(got, `"max_tokens":256`) || !strings.Contains(got, `"system":"be brief"`) {
		t.Errorf("upstream got %s", got)
	}

	_, err = do(`{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"my ssn is 123-45-6789"}]}]}`)
	var e *core.Error
	if !errors.As(err, &e) || e.Kind != core.KindDenied {
		t.Fatalf("err = %v", err)
	}
	if body := string(f.ErrorBody(e)); !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, "personal data (ssn)") {
		t.Errorf("error body %s", body)
	}

	up.events = []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"mail me at "}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"bob@example.org now"}}`,
		`{"type":"message_stop"}`,
	}
	resp, err := do(`{"model":"claude-3-5-haiku-latest","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, resp.Stream)
	if len(got) != 2 || !strings.HasPrefix(got[1], "event: error\ndata: {") || !strings.Contains(got[1], "personal data (email)") {
		t.Errorf("stream events %q", got)
	}
}
