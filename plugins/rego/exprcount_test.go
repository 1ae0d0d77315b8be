package rego

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/profiler"
)

// TestExprCount prints how many expressions the shipped guardrails evaluate
// for the benchmark's call, by file and line, with OPA's profiler: the
// measure to cut when the stage is too slow (OPA allocates for each one).
// QUERY picks one guardrail (QUERY=data.tollgate.guardrails.models).
//
//	PROFILE=1 go test -run TestExprCount -v ./plugins/rego/
func TestExprCount(t *testing.T) {
	if os.Getenv("PROFILE") == "" {
		t.Skip("set PROFILE=1 to print the expression counts")
	}
	cfg := decodeConfig(t, benchConfig)
	cfg.Query = os.Getenv("QUERY")
	cfg.withDefaults()
	p, err := build(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stage{spend: fixedSpend{}, usage: usageCache{ttl: 1e9}}
	items, _ := s.requestItems(context.Background(), chatRequest(benchBody), p.needs, nil)
	in := withPhase(items, phaseRequest, nil)
	prof := profiler.New()
	if _, err := p.evalTraced(context.Background(), p.req, in, time.Minute, prof); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range prof.ReportTopNResults(200, []string{"num_eval"}) {
		total += r.NumEval
		fmt.Printf("%4d %s:%d\n", r.NumEval, r.Location.File, r.Location.Row)
	}
	fmt.Println("total", total)
}
