package rego

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// TestDecisionCacheEligibility checks which policies' decisions may be
// cached, and on which fields: only those whose rules read small fields
// by fixed paths and call deterministic built-ins.
func TestDecisionCacheEligibility(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // nil: not cacheable
	}{
		{"allow-list", "import data.lib\ndeny contains 1 if not input.request.model in lib.list\n",
			[]string{"request.model", "customer", "metadata.team"}},
		{"body fields by name", "deny contains 1 if input.request.body.max_tokens > 10\ndeny contains 2 if input.request.body.generationConfig.maxOutputTokens > 10\n",
			[]string{"request.body.max_tokens", "request.body.generationConfig.maxOutputTokens"}},
		{"a field and its parent", "deny contains 1 if input.metadata.team == \"x\"\ndeny contains 2 if count(input.metadata) > 3\n",
			[]string{"metadata"}},
		{"texts", "deny contains 1 if { some t in input.request.texts; contains(t.text, \"x\") }\n", nil},
		{"prompt", "deny contains 1 if contains(input.request.prompt, \"x\")\n", nil},
		{"usage", "deny contains 1 if input.usage.day.total_tokens > 10\n", nil},
		{"call id", "deny contains 1 if input.request.id == \"x\"\n", nil},
		{"whole body", "deny contains 1 if count(input.request.body) > 3\n", nil},
		{"whole request", "deny contains 1 if { r := input.request; r.model == \"x\" }\n", nil},
		{"input as a whole", "deny contains 1 if { x := input; x.customer == \"a\" }\n", nil},
		{"dynamic key", "deny contains 1 if { some k in [\"customer\"]; input[k] == \"a\" }\n", nil},
		{"clock", "deny contains 1 if { input.customer == \"a\"; time.now_ns() > 0 }\n", nil},
		{"randomness", "deny contains 1 if { input.customer == \"a\"; rand.intn(\"x\", 2) == 1 }\n", nil},
		{"a token checked against the clock", "deny contains 1 if { [ok, _, _] := io.jwt.decode_verify(input.customer, {\"secret\": \"s\"}); not ok }\n", nil},
		{"with", "deny contains 1 if { f with input.customer as \"a\" }\nf if input.customer == \"a\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods := map[string]*ast.Module{
				"p.rego":   ast.MustParseModule("package p\n\n" + tt.src),
				"lib.rego": ast.MustParseModule("package lib\n\nlist := l if { l := data.cfg[input.customer] } else := data.cfg[input.metadata.team]\n"),
			}
			c, err := compile(mods, capabilities(false))
			if err != nil {
				t.Fatal(err)
			}
			dc := newDecisionCache(c, "data.p")
			var got []string
			if dc != nil {
				got = []string{}
				for _, p := range dc.paths {
					got = append(got, p.String())
				}
				slices.Sort(got)
				slices.Sort(tt.want)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cached on %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDecisionCacheDecides runs calls alike and unlike in the fields the
// allow-list reads, and checks each gets its own decision, the repeats
// from the cache.
func TestDecisionCacheDecides(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte(`package tollgate.request

deny contains sprintf("model %s is not allowed for %s", [input.request.model, input.customer]) if {
	not input.request.model in object.get(data.allowed, input.customer, ["small"])
}

headers := {"x-team": input.metadata.team} if input.metadata.team
`), 0o600)
	cfg := decodeConfig(t, map[string]any{"paths": []any{dir}, "reload": false,
		"data": map[string]any{"allowed": map[string]any{"acme": []any{"big", "small"}}}})
	s, err := New("g", cfg, "", pipeline.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if s.cur.Load().req.cache == nil {
		t.Fatal("the policy's decisions are not cached")
	}
	calls := []struct {
		customer, model, team string
		denied                bool
	}{
		{"acme", "big", "", false},
		{"globex", "big", "", true},
		{"acme", "big", "", false},
		{"globex", "small", "", false},
		{"globex", "big", "", true},
		{"acme", "huge", "ml", true},
		{"acme", "big", "ml", false},
	}
	for round := range 2 {
		for i, c := range calls {
			req := chatRequest(`{"model":"` + c.model + `","messages":[]}`)
			req.Customer, req.Metadata = c.customer, nil
			if c.team != "" {
				req.Metadata = map[string]string{"team": c.team}
			}
			resp, err := s.Handle(context.Background(), req, func(context.Context, *core.Request) (*core.Response, error) {
				return &core.Response{Status: 200}, nil
			})
			if denied := err != nil; denied != c.denied {
				t.Fatalf("round %d call %d %+v: err = %v", round, i, c, err)
			}
			if err == nil && c.team != "" && resp.Header.Get("x-team") != c.team {
				t.Errorf("round %d call %d: x-team = %q, want %q", round, i, resp.Header.Get("x-team"), c.team)
			}
		}
	}
	// 5 distinct field sets among 7 calls, twice: 9 answered from the cache.
	if st := s.Status(); st.Evaluated != 14 || st.Cached != 9 {
		t.Errorf("evaluated %d, cached %d; want 14 and 9", st.Evaluated, st.Cached)
	}
	// Concurrent calls share the cache (run with -race).
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				c := calls[(g+i)%len(calls)]
				req := chatRequest(`{"model":"` + c.model + `","messages":[]}`)
				req.Customer = c.customer
				_, err := s.Handle(context.Background(), req, func(context.Context, *core.Request) (*core.Response, error) {
					return &core.Response{Status: 200}, nil
				})
				if denied := err != nil; denied != c.denied && c.team == "" {
					t.Errorf("concurrent call %+v: err = %v", c, err)
				}
			}
		})
	}
	wg.Wait()
}

// TestDecisionCacheOff checks decision_cache: false evaluates every call.
func TestDecisionCacheOff(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package tollgate.request\n\ndeny contains \"no\" if input.request.model == \"x\"\n"), 0o600)
	cfg := decodeConfig(t, map[string]any{"paths": []any{dir}, "reload": false, "decision_cache": false})
	s, err := New("g", cfg, "", pipeline.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if s.cur.Load().req.cache != nil {
		t.Fatal("decision_cache: false left the cache on")
	}
}
