package anthropic_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/providers/anthropic"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

// stream builds an Anthropic event stream with n text deltas; delta is the
// usage object of its message_delta.
func stream(n int, delta string) []byte {
	var b bytes.Buffer
	ev := func(name, data string) { fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", name, data) }
	ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":1}}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	ev("ping", `{"type": "ping"}`)
	for i := 0; i < n; i++ {
		ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word"}}`)
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":`+delta+`}`)
	ev("message_stop", `{"type":"message_stop"}`)
	return b.Bytes()
}

// observe runs a stream through the format's observer, at most limit events.
func observe(t testing.TB, raw []byte, limit int) (core.Usage, bool) {
	req := &core.Request{Operation: anthropic.OpMessages}
	obs := anthropic.New().ObserveStream(req)
	s := sse.NewReader(bytes.NewReader(raw))
	var u core.Usage
	for i := 0; i < limit; i++ {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Observe(ev, &u) {
			t.Fatalf("event %s hidden", ev.Name)
		}
	}
	return u, obs.Finished()
}

var want = core.Usage{InputTokens: 130, OutputTokens: 42, TotalTokens: 172, CachedInputTokens: 100, CacheWriteTokens: 20}

func TestStreamUsageCountsEachTokenOnce(t *testing.T) {
	tests := []struct {
		name  string
		delta string
	}{
		{"message_delta repeats every count (cumulative)", `{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":42}`},
		{"message_delta with output only", `{"output_tokens":42}`},
		{"message_delta with null counts", `{"input_tokens":null,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":42}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, done := observe(t, stream(5, tt.delta), 1000)
			if u != want || !done {
				t.Errorf("usage %+v finished %v, want %+v", u, done, want)
			}
		})
	}
	body := []byte(`{"id":"msg_1","type":"message","content":[{"type":"text","text":"usage: \"usage\""}],"usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":42}}`)
	if u, ok := anthropic.New().Usage(&core.Request{Operation: anthropic.OpMessages}, body); !ok || u != want {
		t.Errorf("whole answer usage %+v, want the stream's %+v", u, want)
	}
}

func TestStreamCutShortIsEstimated(t *testing.T) {
	u, done := observe(t, stream(5, `{"output_tokens":42}`), 6) // start, block start, ping, 3 deltas
	if done || !u.Estimated || u.OutputTokens != 3 || u.InputTokens != 130 {
		t.Errorf("usage %+v finished %v: want the input and 3 estimated output tokens", u, done)
	}
}

func TestMatch(t *testing.T) {
	f := anthropic.New()
	h := http.Header{"Anthropic-Version": {"2023-06-01"}}
	tests := []struct {
		method, path string
		header       http.Header
		op           string
		ok           bool
	}{
		{"POST", "/v1/messages", nil, "messages", true},
		{"GET", "/v1/messages", nil, "messages", false},
		{"POST", "/v1/messages/count_tokens", nil, "messages.count_tokens", true},
		{"GET", "/v1/messages/batches/b1/results", nil, "messages.batches", true},
		{"GET", "/v1/models", nil, "", false},
		{"GET", "/v1/models", h, "models.list", true},
		{"GET", "/v1/models/claude-x", h, "models.retrieve", true},
		{"POST", "/v1/files", h, "files", true},
		{"POST", "/v1/chat/completions", nil, "", false},
	}
	for _, tt := range tests {
		op, ok := f.MatchHeader(tt.method, tt.path, tt.header)
		if ok != tt.ok || ok && op != tt.op {
			t.Errorf("%s %s = %q %v, want %q %v", tt.method, tt.path, op, ok, tt.op, tt.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, ""},
		{`{"model":"c","messages":[{"role":"user","content":"hi"}]}`, "max_tokens: Field required"},
		{`{"max_tokens":5,"messages":[]}`, "model: Field required"},
		{`{"model":"c","max_tokens":5,"messages":[]}`, "at least one message"},
		{`{"model":"c","max_tokens":"5","messages":[]}`, "max_tokens: Input should be a valid integer"},
		{`{"model":`, "not valid JSON: unexpected end of JSON input, at byte 9"},
	}
	f := anthropic.New()
	for _, tt := range tests {
		req := &core.Request{Operation: anthropic.OpMessages, Body: []byte(tt.body)}
		f.Parse(req)
		err := f.Validate(req)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Message, tt.want) {
			t.Errorf("%s: %v, want %q", tt.body, err, tt.want)
		}
		if err != nil {
			body := string(f.ErrorBody(err))
			if !strings.HasPrefix(body, `{"type":"error","error":{"type":"invalid_request_error","message":`) {
				t.Errorf("error body %s", body)
			}
		}
	}
}

func TestAuthorize(t *testing.T) {
	h := http.Header{}
	anthropic.New().Authorize(h, "sk-ant-x")
	if h.Get("X-Api-Key") != "sk-ant-x" || h.Get("Anthropic-Version") != anthropic.Version {
		t.Errorf("header %v", h)
	}
	h = http.Header{"Anthropic-Version": {"2099-01-01"}}
	anthropic.New().Authorize(h, "k")
	if h.Get("Anthropic-Version") != "2099-01-01" {
		t.Errorf("the client's version must be kept: %v", h)
	}
}

// BenchmarkStream decodes a 200-delta Anthropic stream and reads its usage.
func BenchmarkStream(b *testing.B) {
	raw := stream(200, `{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":42}`)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, _ := observe(b, raw, 1<<20); u.OutputTokens != 42 {
			b.Fatal(u)
		}
	}
}

func TestStreamErrorEventIsAFailure(t *testing.T) {
	raw := []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n" +
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
	obs := anthropic.New().ObserveStream(&core.Request{Operation: anthropic.OpMessages})
	s := sse.NewReader(bytes.NewReader(raw))
	var u core.Usage
	for {
		ev, err := s.Next()
		if err != nil {
			break
		}
		obs.Observe(ev, &u)
	}
	if f := obs.(core.StreamFailer).Failure(); f != "overloaded_error: Overloaded" || u.InputTokens != 10 {
		t.Errorf("failure %q usage %+v", f, u)
	}
}
