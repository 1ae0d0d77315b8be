package rego_test

import (
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/pipeline"
)

// Calls evaluate concurrently on one stage, sharing its prepared queries,
// the usage cache and the terms the input parser shares; run with -race.
func TestConcurrentCalls(t *testing.T) {
	up := &upstream{body: `{"choices":[{"message":{"content":"fine"}}]}`}
	eng, _ := engine(t, pipeline.Spec{Config: map[string]any{"paths": []any{"../../policies/guardrails"}, "phase": "both",
		"decision_log": map[string]any{"path": t.TempDir() + "/d.jsonl"},
		"data":         map[string]any{"tollgate": map[string]any{"config": map[string]any{"max_tokens": map[string]any{"default": 64}}}}}},
		up, pipeline.Env{Spend: fixedSpendT{}})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				body := chat
				if (i+w)%3 == 0 {
					body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"mail a@b.io"}]}`
				}
				_, err := call(eng, "acme", body)
				if denied := err != nil; denied != ((i+w)%3 == 0) {
					t.Errorf("call %d/%d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
