package rego_test

import (
	"errors"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// TestTextsReachThePolicy checks that a policy sees every prompt text, in
// order, with its role and path, through the stage's input as the plan
// evaluator reads it.
func TestTextsReachThePolicy(t *testing.T) {
	dir := writePolicy(t, map[string]string{"p.rego": `package tollgate.request

deny contains sprintf("%d %s", [count(input.request.texts), concat("|", [sprintf("%s:%s:%s", [x.path, x.role, x.text]) | some x in input.request.texts])])
`})
	eng, _ := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{dir}}}, &upstream{}, pipeline.Env{})
	body := `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"one"},` +
		`{"role":"assistant","content":"two"},{"role":"user","content":[{"type":"text","text":"three"},{"type":"text","text":"four"}]}]}`
	_, err := call(eng, "acme", body)
	var e *core.Error
	if !errors.As(err, &e) || len(e.Reasons) != 1 {
		t.Fatalf("err = %v", err)
	}
	want := "5 messages.0.content:system:be brief|messages.1.content:user:one|messages.2.content:assistant:two|" +
		"messages.3.content.0.text:user:three|messages.3.content.1.text:user:four"
	if e.Reasons[0] != want {
		t.Errorf("the policy saw %q, want %q", e.Reasons[0], want)
	}
}
