package openai

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parseResult is what Parse and Usage report about a chat body.
type parseResult struct {
	Model     string
	Stream    bool
	Err       string
	HideUsage bool
	Usage     core.Usage // without its Problem text
	UsageOK   bool
	Problem   bool // the usage has a Problem: it is the gateway's estimate
}

func parseChat(body string) parseResult {
	req := &core.Request{Method: "POST", Path: "/v1/chat/completions", Operation: OpChatCompletions, Body: []byte(body)}
	Format{}.Parse(req)
	r := parseResult{Model: req.Model, Stream: req.Stream}
	if req.ParseErr != nil {
		r.Err = req.ParseErr.Error()
	} else if st, _ := req.State().(*parsed); st != nil {
		r.HideUsage = st.hideUsage
	}
	if json.Valid([]byte(body)) { // of a cut-short answer, Usage reads what it can
		r.Usage, r.UsageOK = Format{}.Usage(req, []byte(body))
		r.Problem, r.Usage.Problem = r.Usage.Problem != "", ""
	}
	return r
}

// referenceChat is Parse and Usage written with encoding/json: the top-level
// fields in order, the first type error wins, the last usage object counts.
func referenceChat(body string) parseResult {
	var r parseResult
	fields, ok := orderedFields(body)
	if !json.Valid([]byte(body)) {
		r.Err = invalid("invalid_json", "", "the body is not valid JSON: "+jsonscan.Why([]byte(body))).Error() // Why has its own test
		return r
	}
	if !ok {
		r.Err = invalid("invalid_json", "", "the body must be a JSON object").Error()
		r.Usage, r.Problem = core.Usage{Estimated: true}, true // no usage in it
		return r
	}
	includeUsage := false
	for _, f := range fields {
		if r.Err != "" {
			break
		}
		var v any
		json.Unmarshal(f.raw, &v)
		switch f.name {
		case "model":
			s, isString := v.(string)
			if !isString {
				r.Err = typeError("model", "a string", string(f.raw)).Error()
				break
			}
			r.Model = s
		case "stream":
			b, isBool := v.(bool)
			if !isBool && v != nil {
				r.Err = typeError("stream", "a boolean", string(f.raw)).Error()
				break
			}
			r.Stream = b
		case "stream_options":
			var so map[string]json.RawMessage
			if json.Unmarshal(f.raw, &so) != nil {
				r.Err = typeError("stream_options", "an object", string(f.raw)).Error()
				break
			}
			includeUsage = string(so["include_usage"]) == "true"
		case "messages":
			a, isArray := v.([]any)
			switch {
			case !isArray:
				r.Err = typeError("messages", "an array of messages", string(f.raw)).Error()
			case len(a) == 0:
				r.Err = invalid("empty_array", "messages", "invalid 'messages': empty array; expected at least one message").Error()
			}
		}
	}
	r.HideUsage = r.Err == "" && r.Stream && !includeUsage
	var usage json.RawMessage
	for _, f := range fields {
		if f.name == "usage" {
			usage = f.raw
		}
	}
	// core's rule: a count is a whole number from 0 to 2⁶³−1 (null or
	// absent is 0), cached ≤ input, reasoning ≤ output, input + output fits;
	// anything else, and no usage object at all, is estimated: 0 tokens.
	r.Usage, r.Problem = core.Usage{Estimated: true}, true
	var u map[string]json.RawMessage
	if !bytes.HasPrefix(usage, []byte("{")) || json.Unmarshal(usage, &u) != nil {
		return r
	}
	bad := false
	num := func(raw json.RawMessage) int64 {
		if raw == nil || string(raw) == "null" {
			return 0
		}
		var n json.Number // a number, or a string holding one
		if json.Unmarshal(raw, &n) != nil {
			bad = true
			return 0
		}
		if i, err := n.Int64(); err == nil {
			bad = bad || i < 0
			return i
		}
		f, err := n.Float64()
		if err != nil || f < 0 || f >= 1<<63 || f != math.Trunc(f) {
			bad = true
			return 0
		}
		return int64(f)
	}
	inner := func(raw json.RawMessage, name string) int64 {
		var m map[string]json.RawMessage
		json.Unmarshal(raw, &m)
		return num(m[name])
	}
	got := core.Usage{InputTokens: num(u["prompt_tokens"]), OutputTokens: num(u["completion_tokens"]),
		CachedInputTokens: inner(u["prompt_tokens_details"], "cached_tokens"),
		ReasoningTokens:   inner(u["completion_tokens_details"], "reasoning_tokens")}
	if bad || got.CachedInputTokens > got.InputTokens || got.ReasoningTokens > got.OutputTokens ||
		got.InputTokens > math.MaxInt64-got.OutputTokens {
		return r
	}
	got.TotalTokens = got.InputTokens + got.OutputTokens
	r.Usage, r.UsageOK, r.Problem = got, true, false
	return r
}

type rawField struct {
	name string
	raw  json.RawMessage
}

// orderedFields lists an object's top-level fields in order, duplicates
// included; ok is false for anything but a valid object.
func orderedFields(body string) (fields []rawField, ok bool) {
	d := json.NewDecoder(strings.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, false
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, false
		}
		fields = append(fields, rawField{t.(string), raw})
	}
	return fields, true
}

var parseCases = []string{
	`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"gpt-\u0034o","stream":true,"messages":[{"role":"user","content":"a \"b\""}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":[],"messages":[{}]}`, `{"model":"m","stream":true,"stream_options":null,"messages":[{}]}`,
	`{"model":"m","stream":null,"messages":[1]}`,
	`{"model":1,"messages":[]}`, `{"model":"m","stream":"yes"}`, `{"messages":{}}`, `{"messages":[ ]}`,
	`{"model":"a","model":"b","messages":[1]}`, `{"stream":1,"model":"late"}`,
	`[]`, `"s"`, `{`, `{"model":"m",}`, ``,
	`{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":99}"}}],"usage":{"prompt_tokens":9,"completion_tokens":12,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":5}}}`,
	`{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}`, `{"usage":null}`, `{"usage":[1]}`,
	`{"usage":{"prompt_tokens":1.9,"completion_tokens":2e2}}`, `{"usage":{"prompt_tokens":"7"},"model":5}`,
	`{"usage":{"prompt_tokens":10.0,"completion_tokens":2e2}}`, `{"usage":{"prompt_tokens":"07"}}`, `{"usage":{"prompt_tokens":"+7"}}`,
	`{"usage":{"prompt_tokens":"x","prompt_tokens":3}}`, `{"usage":{"prompt_tokens":3,"prompt_tokens":"x"}}`,
	`{"usage":{"prompt_tokens":-1}}`, `{"usage":{"prompt_tokens":99999999999999999999}}`, `{"usage":{"prompt_tokens":1e400}}`,
	`{"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":11}}}`,
	`{"usage":{"completion_tokens":1,"completion_tokens_details":{"reasoning_tokens":2}}}`,
	`{"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":1}}`,
}

func TestParseMatchesEncodingJSON(t *testing.T) {
	for _, body := range parseCases {
		if got, want := parseChat(body), referenceChat(body); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
}

// FuzzParseMatchesEncodingJSON: on any bytes, Parse and Usage agree with
// the encoding/json reference.
func FuzzParseMatchesEncodingJSON(f *testing.F) {
	for _, body := range parseCases {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if got, want := parseChat(body), referenceChat(body); got != want {
			t.Fatalf("%q:\n got %+v\nwant %+v", body, got, want)
		}
	})
}

var (
	benchRequest = []byte(`{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"` +
		strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`)
	benchAnswer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1795685270,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"This is a mock response from tollgate.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":171,"completion_tokens":7,"total_tokens":178,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_tollgate"}`)
)

// BenchmarkParse is the request check every chat call pays: a ~1 KB body.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		req := &core.Request{Method: "POST", Path: "/v1/chat/completions", Operation: OpChatCompletions, Body: benchRequest}
		Format{}.Parse(req)
		if req.ParseErr != nil {
			b.Fatal(req.ParseErr)
		}
	}
}

// BenchmarkUsage reads the usage of a whole answer.
func BenchmarkUsage(b *testing.B) {
	req := &core.Request{Operation: OpChatCompletions}
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, ok := (Format{}).Usage(req, benchAnswer); !ok || u.InputTokens != 171 {
			b.Fatal(u, ok)
		}
	}
}

// TestParseAllocatesOnlyItsState: reading a chat body costs one
// allocation, its parsed state (a closure that escaped once cost four more).
func TestParseAllocatesOnlyItsState(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		req := &core.Request{Method: "POST", Path: "/v1/chat/completions", Operation: OpChatCompletions, Body: benchRequest}
		Format{}.Parse(req)
		if req.ParseErr != nil || req.Model == "" {
			t.Fatal(req.ParseErr)
		}
	})
	if allocs > 2 { // the state and the request itself
		t.Fatalf("Parse made %v allocations, want at most 2", allocs)
	}
}

// usageCases are streamed bodies that repeat stream_options or its
// include_usage, as a client might to turn metering off.
var usageCases = []string{
	`{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_usage":false},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":false},"stream_options":{"include_usage":false},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_\u0075sage":false},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"stream_options":null,"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":{"x":1},"stream_options":{},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_\u006fptions":{"include_usage":false},"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":false, "x" : [1]} ,"stream_options":{"x":2, "include_usage":0} }`,
	`{"model":"m","stream":true,"messages":[{}]}`,
	`{"model":"m","stream":true,"stream_options":null,"messages":[{}]}`,
}

// The body a streamed call sends upstream asks for usage as the upstream
// reads it (encoding/json: the last of repeated keys wins), whatever keys
// the client repeated, and the usage chunk is hidden when the client did
// not ask for it the same way.
func TestStreamedBodyAlwaysAsksForUsage(t *testing.T) {
	for _, body := range usageCases {
		checkAsksForUsage(t, body)
	}
}

func FuzzStreamedBodyAlwaysAsksForUsage(f *testing.F) {
	for _, body := range usageCases {
		f.Add(body)
	}
	f.Fuzz(checkAsksForUsage)
}

func checkAsksForUsage(t *testing.T, body string) {
	req := &core.Request{Method: "POST", Path: "/v1/chat/completions", Operation: OpChatCompletions, Body: []byte(body)}
	Format{}.Parse(req)
	if req.ParseErr != nil || !req.Stream {
		return
	}
	// Maps, not structs: encoding/json matches struct fields ignoring
	// case, and the upstream does not.
	includeUsage := func(b []byte) (bool, error) {
		var top map[string]any
		err := json.Unmarshal(b, &top)
		opts, _ := top["stream_options"].(map[string]any)
		return opts["include_usage"] == true, err
	}
	asked, _ := includeUsage([]byte(body))
	sent, err := includeUsage(req.Body)
	if err != nil {
		t.Fatalf("%s: the body sent upstream is not JSON: %v\n%s", body, err, req.Body)
	}
	if !sent {
		t.Fatalf("%s: the upstream reads no include_usage true in\n%s", body, req.Body)
	}
	if st := req.State().(*parsed); st.hideUsage == asked {
		t.Errorf("%s: hideUsage %v, but the client asked for usage: %v", body, st.hideUsage, asked)
	}
}
