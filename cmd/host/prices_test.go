package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// pricedConfig prices gpt-4o-mini far above the built-in table in the track
// stage: input and output dollars per million tokens.
func pricedConfig(input, output string) string {
	return strings.Replace(opsConfig, "config: {sinks: [{type: jsonl, path: {{DIR}}/usage.jsonl}]}",
		"config: {sinks: [{type: jsonl, path: {{DIR}}/usage.jsonl}], pricing: {openai: {gpt-4o-mini: {input: \""+input+
			"\", output: \""+output+"\"}}}}", 1) + "reload: {debounce: 50ms}\n"
}

// costMetric reads tollgate_cost_usd_total for gpt-4o-mini.
func costMetric(t *testing.T, admin string) float64 {
	t.Helper()
	const series = `tollgate_cost_usd_total{model="gpt-4o-mini",provider="openai"} `
	for _, l := range strings.Split(scrape(t, admin), "\n") {
		if v, ok := strings.CutPrefix(l, series); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestCostMetricUsesTheTrackStagePrices(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, pricedConfig("1000", "2000"), "E2E_OPENAI_KEY="+plantedKey)
	url := h.url + "/v1/chat/completions"
	var want float64 // dollars, from the provider's usage at the configured prices
	price := func(in, out float64) {
		r := up.Requests()
		u, _ := up.ExpectedUsage(r[len(r)-1].Body)
		want += float64(u.PromptTokens)*in/1e6 + float64(u.CompletionTokens)*out/1e6
	}
	for range 2 {
		if code, body := opsCall(t, url, chat); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		price(1000, 2000)
	}
	if got := costMetric(t, h.admin); !near(got, want) {
		t.Errorf("tollgate_cost_usd_total = %v, want %v (the track stage's prices, not the built-in ones)", got, want)
	}

	// A reload that changes the prices changes what the metric adds.
	h.write(t, pricedConfig("3000", "5000"))
	opsWait(t, 10*time.Second, "the reload", func() bool { return strings.Contains(h.stderr.String(), "config reloaded") })
	if code, body := opsCall(t, url, chat); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	price(3000, 5000)
	if got := costMetric(t, h.admin); !near(got, want) {
		t.Errorf("after the reload, tollgate_cost_usd_total = %v, want %v", got, want)
	}

	// The usage events, priced by the track stage, add up to the metric.
	h.stop(t)
	var events core.USD
	for _, ev := range h.events(t) {
		if ev.Cost == nil {
			t.Fatalf("event without a cost: %+v", ev)
		}
		events += *ev.Cost
	}
	if got := float64(events) / float64(core.Dollar); !near(got, want) {
		t.Errorf("the usage events cost %v in all, the metric says %v", got, want)
	}
}
