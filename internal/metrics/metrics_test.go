package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/pipeline"
	_ "github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// breaker is a part that reports breaker states.
type breaker struct{}

func (breaker) State(upstream string) string { return "open" }
func (breaker) Handle(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
	return next(ctx, r)
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	up := providertest.NewServer(t)
	base, _ := url.Parse(up.URL + "/v1")
	u := core.NewUpstream("openai", "openai", base, "sk-test-key", "OPENAI_API_KEY")
	var eng *core.Engine
	m := metrics.New(metrics.Options{Version: "test", Commit: "abc",
		Parts: func() []core.Part {
			return append(eng.Pipeline().Parts(), core.Part{Name: "breaker", Value: breaker{}})
		},
		Upstreams: func() []string { return []string{"openai"} },
		Cost:      func(o *core.Outcome) (core.USD, bool) { return core.USD(o.Usage.TotalTokens) * core.Microdollar, true }})
	p, err := pipeline.Build([]pipeline.Spec{{Name: "validate", Kind: "builtin"}, {Name: "call", Kind: "builtin"}},
		pipeline.Env{Log: slog.New(slog.DiscardHandler), Upstreams: map[string]*core.Upstream{"openai": u}, Instrument: m})
	if err != nil {
		t.Fatal(err)
	}
	eng = core.New(core.WithPipeline(p), core.WithFormats(openai.New()), core.WithUpstream(u), core.WithObserver(m),
		core.WithLogger(slog.New(slog.DiscardHandler)))
	srv := httptest.NewServer(eng.Handler())
	defer srv.Close()
	calls := []struct{ body, fault string }{
		{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"one two three"}]}`, ""},
		{`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"four five"}]}`, ""},
		{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"six"}]}`, "status=500"},
		{`{"model":`, ""},
	}
	for _, c := range calls {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(c.body))
		if c.fault != "" {
			req.Header.Set(providertest.FaultHeader, c.fault)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	var want []string
	reqs := up.Requests()
	var in, out int
	for _, r := range reqs[:2] {
		u, _ := up.ExpectedUsage(r.Body)
		in += u.PromptTokens
		out += u.CompletionTokens
	}
	want = append(want,
		`tollgate_requests_total{code="200",model="gpt-4o-mini",operation="chat.completions",provider="openai",status="ok",upstream="openai"} 2`,
		`tollgate_requests_total{code="500",model="gpt-4o-mini",operation="chat.completions",provider="openai",status="upstream_error",upstream="openai"} 1`,
		`tollgate_request_duration_seconds_count{model="gpt-4o-mini",operation="chat.completions",provider="openai"} 3`,
		`tollgate_time_to_first_token_seconds_count{model="gpt-4o-mini",provider="openai"} 1`,
		`tollgate_tokens_total{model="gpt-4o-mini",provider="openai",type="input"} `+strconv.Itoa(in),
		`tollgate_tokens_total{model="gpt-4o-mini",provider="openai",type="output"} `+strconv.Itoa(out),
		`tollgate_stage_duration_seconds_count{stage="validate"} 4`,
		`tollgate_stage_duration_seconds_count{stage="call"} 3`,
		`tollgate_upstream_duration_seconds_count{upstream="openai"} 3`,
		`tollgate_refusals_total{reason="invalid",stage=""} 1`,
		`tollgate_circuit_breaker_state{stage="breaker",state="open",upstream="openai"} 1`,
		`tollgate_build_info{commit="abc",version="test"} 1`,
		`go_goroutines `,
	)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %s", w)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", grep(text, "tollgate_"))
	}
	if n := testutil.CollectAndCount(m.Registry(), "tollgate_cost_usd_total"); n != 1 {
		t.Errorf("cost series %d", n)
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestCustomerLabelIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		m := metrics.New(metrics.Options{CustomerLabel: on})
		req := &core.Request{Format: openai.New(), Model: "m", Customer: "acme"}
		m.Complete(&core.Outcome{Request: req, Status: core.StatusOK, HTTPStatus: 200, Usage: core.Usage{InputTokens: 3}})
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if got := strings.Contains(rec.Body.String(), `customer="acme"`); got != on {
			t.Errorf("CustomerLabel %v: customer label present = %v", on, got)
		}
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestModelLabelsAreBounded: a client that names a new model on every call
// adds series up to metrics.MaxModels models; the calls past them are
// counted, under the model "other", and add no series.
func TestModelLabelsAreBounded(t *testing.T) {
	m := metrics.New(metrics.Options{})
	call := func(model string) {
		m.Complete(&core.Outcome{Request: &core.Request{Model: model, Operation: "chat.completions"},
			Status: core.StatusUpstreamError, HTTPStatus: 404})
	}
	for i := range metrics.MaxModels + 100 {
		call("made-up-" + strconv.Itoa(i))
	}
	call("made-up-0") // a model with a label keeps it
	if n := testutil.CollectAndCount(m.Registry(), "tollgate_requests_total"); n != metrics.MaxModels+1 {
		t.Fatalf("%d request series after %d models, want %d (the first %d and other)", n, metrics.MaxModels+100, metrics.MaxModels+1, metrics.MaxModels)
	}
	for model, want := range map[string]float64{"made-up-0": 2, metrics.Other: 100} {
		if got := sumWhere(t, m, "tollgate_requests_total", "model", model); got != want {
			t.Errorf("model %q counted %v calls, want %v", model, got, want)
		}
	}
}

// TestCustomerLabelsAreBounded: with the customer label on, a client that
// sends a new customer id on every call adds token series up to
// metrics.MaxCustomers customers; the tokens past them count as "other".
func TestCustomerLabelsAreBounded(t *testing.T) {
	m := metrics.New(metrics.Options{CustomerLabel: true})
	call := func(customer string) {
		m.Complete(&core.Outcome{Request: &core.Request{Model: "gpt-4o", Customer: customer, Operation: "chat.completions"},
			Status: core.StatusOK, HTTPStatus: 200, Usage: core.Usage{InputTokens: 1}})
	}
	for i := range metrics.MaxCustomers + 50 {
		call("cust-" + strconv.Itoa(i))
	}
	call("cust-0")
	const types = 5 // input, output, cached_input, cache_write, reasoning
	if n := testutil.CollectAndCount(m.Registry(), "tollgate_tokens_total"); n != types*(metrics.MaxCustomers+1) {
		t.Fatalf("%d token series after %d customers, want %d (%d types for the first %d and other)",
			n, metrics.MaxCustomers+50, types*(metrics.MaxCustomers+1), types, metrics.MaxCustomers)
	}
	for customer, want := range map[string]float64{"cust-0": 2, metrics.Other: 50} {
		if got := sumWhere(t, m, "tollgate_tokens_total", "customer", customer); got != want {
			t.Errorf("customer %q counted %v tokens, want %v", customer, got, want)
		}
	}
}

// sumWhere adds up the counter family's series whose label has value.
func sumWhere(t *testing.T, m *metrics.Metrics, family, label, value string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != family {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += s.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
