package core

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// reflected is UsageEvent without its methods: what encoding/json makes of
// the struct tags alone, the reference AppendJSON must match.
type reflected UsageEvent

func checkSameJSON(t *testing.T, ev *UsageEvent) {
	t.Helper()
	ref := *ev
	if ref.Metadata == nil {
		ref.Metadata = map[string]string{} // nil metadata is written {}, not null
	}
	want, err := json.Marshal((*reflected)(&ref))
	if err != nil {
		t.Skipf("encoding/json refuses the event: %v", err)
	}
	got := ev.AppendJSON(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from encoding/json\n got: %s\nwant: %s", got, want)
	}
	back := new(UsageEvent)
	if err := json.Unmarshal(got, back); err != nil {
		t.Fatalf("AppendJSON's output does not decode: %v\n%s", err, got)
	}
}

func fullEvent() *UsageEvent {
	ttft, cost := 12.5, 375*Microdollar/100
	return &UsageEvent{ID: "0193a3c1-7d2e-7cc0-8f00-000000000001",
		Timestamp:  time.Date(2026, 11, 26, 7, 30, 1, 120000000, time.UTC),
		CustomerID: "acme", Provider: "openai", Upstream: "azure-east", Model: "gpt-4o-mini", Operation: "chat",
		InputTokens: 1200, OutputTokens: 300, TotalTokens: 1500, CachedInputTokens: 1024, CacheWriteTokens: 7, ReasoningTokens: 64,
		UsageEstimated: true, Stream: true, Status: StatusOK, HTTPStatus: 200, LatencyMS: 431.25, TimeToFirstToken: &ttft,
		RetryCount: 2, CacheHit: true, Saved: &Usage{InputTokens: 5, OutputTokens: 6, TotalTokens: 11, Estimated: true},
		RequestID: "req_1", Error: "upstream said <no> & \"stop\"", Reasons: []string{"pii: email", "budget"},
		Metadata: map[string]string{"team": "search", "env": "prod", "app": "bot"}, Cost: &cost}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]*UsageEvent{
		"full":                              fullEvent(),
		"empty":                             {},
		"nil metadata, no cost, no options": {ID: "x", Status: StatusDenied, HTTPStatus: 403},
		"empty reasons and metadata":        {Reasons: []string{}, Metadata: map[string]string{}},
		"escapes": {CustomerID: "a\"b\\c\n\r\t\b\f\x00\x1f<>&\u2028\u2029\xff\xfe é 漢 🙂",
			Metadata: map[string]string{"k\"ey": "v<al>", "": ""}},
		"small and large floats": {LatencyMS: 1e-7, TimeToFirstToken: ptr(3e21)},
		"negative float":         {LatencyMS: -0.000001},
		"negative cost":          {Cost: ptr(-5 * Picodollar)},
		"non-UTC timestamp":      {Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 5*3600+1800))},
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) { checkSameJSON(t, ev) })
	}
}

func ptr[T any](v T) *T { return &v }

// TestAppendJSONNonFinite shows the one place the encoders part: a NaN
// latency is written as 0 instead of failing the whole outbox batch.
func TestAppendJSONNonFinite(t *testing.T) {
	ev := &UsageEvent{ID: "x", LatencyMS: math.NaN(), TimeToFirstToken: ptr(math.Inf(1))}
	var back UsageEvent
	if err := json.Unmarshal(ev.AppendJSON(nil), &back); err != nil || back.LatencyMS != 0 || *back.TimeToFirstToken != 0 {
		t.Fatalf("decoded %+v, err %v; want the non-finite floats as 0", back, err)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("acme", "gpt-4o", "team", "a<b>&\u2028", 12.5, int64(100), int64(3))
	f.Add("\xff\x00\"\\", "", "", "", 1e-9, int64(-1), int64(1<<62))
	f.Fuzz(func(t *testing.T, customer, model, key, value string, latency float64, tokens int64, cost int64) {
		ev := fullEvent()
		ev.CustomerID, ev.Model, ev.LatencyMS, ev.InputTokens = customer, model, latency, tokens
		ev.Metadata = map[string]string{key: value, value: key}
		c := USD(cost)
		ev.Cost = &c
		checkSameJSON(t, ev)
	})
}

func BenchmarkUsageEventJSON(b *testing.B) {
	ev := fullEvent()
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = ev.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for b.Loop() {
			buf.Reset()
			enc.Encode((*reflected)(ev))
		}
	})
}
