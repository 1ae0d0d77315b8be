package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestChatCompletion(t *testing.T) {
	tests := []struct {
		name      string
		opts      []Option
		wantReply string
		want      Usage
	}{
		{name: "default", wantReply: DefaultReply,
			want: Usage{PromptTokens: 17, CompletionTokens: 7, TotalTokens: 24}},
		{name: "cached", opts: []Option{WithCachedTokens(5)}, wantReply: DefaultReply,
			want: Usage{PromptTokens: 17, CompletionTokens: 7, TotalTokens: 24, CachedTokens: 5}},
		{name: "cached capped at prompt", opts: []Option{WithCachedTokens(100)}, wantReply: DefaultReply,
			want: Usage{PromptTokens: 17, CompletionTokens: 7, TotalTokens: 24, CachedTokens: 17}},
		{name: "reasoning", opts: []Option{WithReasoningTokens(10)}, wantReply: DefaultReply,
			want: Usage{PromptTokens: 17, CompletionTokens: 17, TotalTokens: 34, ReasoningTokens: 10}},
		{name: "reply", opts: []Option{WithReply("Hello there")}, wantReply: "Hello there",
			want: Usage{PromptTokens: 17, CompletionTokens: 2, TotalTokens: 19}},
		{name: "echo", opts: []Option{WithEcho()}, wantReply: "Say hi please",
			want: Usage{PromptTokens: 17, CompletionTokens: 3, TotalTokens: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t, tt.opts...)
			client := newClient(t, srv.URL+"/v1")
			resp, err := client.Chat.Completions.New(context.Background(), chatParams())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Model != "gpt-4o-mini" || resp.SystemFingerprint == "" || resp.Created == 0 {
				t.Errorf("header fields: id %q object %q model %q fingerprint %q created %d", resp.ID, resp.Object, resp.Model, resp.SystemFingerprint, resp.Created)
			}
			if len(resp.Choices) != 1 {
				t.Fatalf("got %d choices, want 1", len(resp.Choices))
			}
			c := resp.Choices[0]
			if c.Message.Role != "assistant" || c.Message.Content != tt.wantReply || c.FinishReason != "stop" {
				t.Errorf("choice: role %q content %q finish %q, want assistant %q stop", c.Message.Role, c.Message.Content, c.FinishReason, tt.wantReply)
			}
			u := resp.Usage
			got := Usage{
				PromptTokens:     int(u.PromptTokens),
				CompletionTokens: int(u.CompletionTokens),
				TotalTokens:      int(u.TotalTokens),
				CachedTokens:     int(u.PromptTokensDetails.CachedTokens),
				ReasoningTokens:  int(u.CompletionTokensDetails.ReasoningTokens),
			}
			if got != tt.want {
				t.Errorf("usage %+v, want %+v", got, tt.want)
			}
			if !u.JSON.PromptTokensDetails.Valid() || !u.JSON.CompletionTokensDetails.Valid() {
				t.Errorf("usage details missing: %s", u.RawJSON())
			}
			expected, err := srv.ExpectedUsage(srv.Requests()[0].Body)
			if err != nil || expected != tt.want {
				t.Errorf("ExpectedUsage = %+v, %v; want %+v", expected, err, tt.want)
			}
		})
	}
}

func TestBaseURLs(t *testing.T) {
	tests := []struct {
		name     string
		suffix   string
		wantPath string
	}{
		{name: "with v1", suffix: "/v1", wantPath: "/v1/chat/completions"},
		{name: "bare", suffix: "", wantPath: "/chat/completions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t)
			client := newClient(t, srv.URL+tt.suffix)
			if _, err := client.Chat.Completions.New(context.Background(), chatParams()); err != nil {
				t.Fatal(err)
			}
			if got := srv.Requests()[0].Path; got != tt.wantPath {
				t.Errorf("path %q, want %q", got, tt.wantPath)
			}
		})
	}
}

func TestChatCompletionStream(t *testing.T) {
	tests := []struct {
		name         string
		includeUsage bool
		opts         []Option
	}{
		{name: "without usage"},
		{name: "with usage", includeUsage: true},
		{name: "with usage and chunk delay", includeUsage: true, opts: []Option{WithChunkDelay(time.Millisecond), WithReasoningTokens(2), WithCachedTokens(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t, tt.opts...)
			client := newClient(t, srv.URL+"/v1")
			params := chatParams()
			if tt.includeUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := client.Chat.Completions.NewStreaming(context.Background(), params)
			defer stream.Close()
			var chunks []openai.ChatCompletionChunk
			for stream.Next() {
				chunks = append(chunks, stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}

			words := ReplyTokens(DefaultReply)
			wantChunks := words + 1
			if tt.includeUsage {
				wantChunks++
			}
			if len(chunks) != wantChunks {
				t.Fatalf("got %d chunks, want %d", len(chunks), wantChunks)
			}
			var text strings.Builder
			for i, ch := range chunks[:words] {
				if ch.Object != "chat.completion.chunk" || ch.Model != "gpt-4o-mini" || ch.ID != chunks[0].ID {
					t.Errorf("chunk %d: object %q model %q id %q", i, ch.Object, ch.Model, ch.ID)
				}
				if len(ch.Choices) != 1 || ch.Choices[0].FinishReason != "" {
					t.Fatalf("chunk %d: %s", i, ch.RawJSON())
				}
				if role := ch.Choices[0].Delta.Role; (i == 0) != (role == "assistant") {
					t.Errorf("chunk %d: role %q", i, role)
				}
				text.WriteString(ch.Choices[0].Delta.Content)
			}
			if text.String() != DefaultReply {
				t.Errorf("streamed text %q, want %q", text.String(), DefaultReply)
			}
			if fin := chunks[words]; len(fin.Choices) != 1 || fin.Choices[0].FinishReason != "stop" {
				t.Errorf("final chunk %s, want finish_reason stop", fin.RawJSON())
			}
			if !tt.includeUsage {
				return
			}
			last := chunks[len(chunks)-1]
			if len(last.Choices) != 0 || !last.JSON.Usage.Valid() {
				t.Fatalf("usage chunk %s", last.RawJSON())
			}
			want, err := srv.ExpectedUsage(srv.Requests()[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			u := last.Usage
			got := Usage{int(u.PromptTokens), int(u.CompletionTokens), int(u.TotalTokens), int(u.PromptTokensDetails.CachedTokens), int(u.CompletionTokensDetails.ReasoningTokens), 0}
			if got != want || got.PromptTokens != 17 {
				t.Errorf("usage %+v, want %+v", got, want)
			}
		})
	}
}

// TestStreamWire checks the bytes of a stream: the content type, one data
// line per event, "usage":null on every chunk but the usage chunk only when
// include_usage is true, and [DONE] last.
func TestStreamWire(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		includeUsage bool
	}{
		{name: "without usage", body: `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{name: "include_usage false", body: `{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}]}`},
		{name: "include_usage true", includeUsage: true, body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t)
			res, body := post(t, srv, http.MethodPost, "/v1/chat/completions", tt.body)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("content type %q", ct)
			}
			events := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
			if events[len(events)-1] != "data: [DONE]" {
				t.Fatalf("last event %q, want data: [DONE]", events[len(events)-1])
			}
			events = events[:len(events)-1]
			for i, ev := range events {
				payload, ok := strings.CutPrefix(ev, "data: ")
				if !ok || strings.Contains(payload, "\n") || !json.Valid([]byte(payload)) {
					t.Fatalf("event %d is not one line of JSON data: %q", i, ev)
				}
				var chunk struct {
					Choices []json.RawMessage `json:"choices"`
					Usage   json.RawMessage   `json:"usage"`
				}
				_ = json.Unmarshal([]byte(payload), &chunk)
				hasUsage := strings.Contains(payload, `"usage"`)
				switch {
				case !tt.includeUsage && hasUsage:
					t.Errorf("event %d has usage without include_usage: %s", i, payload)
				case tt.includeUsage && i < len(events)-1 && string(chunk.Usage) != "null":
					t.Errorf("event %d: usage %s, want null", i, chunk.Usage)
				case tt.includeUsage && i == len(events)-1 && (chunk.Choices == nil || len(chunk.Choices) != 0 || !bytes.Contains(chunk.Usage, []byte(`"prompt_tokens":8`))):
					t.Errorf("usage event %s, want choices [] and 8 prompt tokens", payload)
				}
			}
		})
	}
}

func TestModels(t *testing.T) {
	srv := NewServer(t, WithModels("gpt-a", "gpt-b"))
	client := newClient(t, srv.URL)
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "gpt-a,gpt-b" {
		t.Errorf("models %v, want gpt-a, gpt-b", ids)
	}
	m, err := client.Models.Get(context.Background(), "gpt-b")
	if err != nil || m.ID != "gpt-b" || m.OwnedBy != "system" {
		t.Errorf("Get(gpt-b) = %+v, %v", m, err)
	}
}

func TestErrorShapes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		headers    []string
		wantStatus int
		wantType   string
		wantParam  string // raw JSON
		wantCode   string // raw JSON
		wantInMsg  string
	}{
		{name: "unknown path", method: "POST", path: "/v1/nope", body: chatBody,
			wantStatus: 404, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "Invalid URL (POST /v1/nope)"},
		{name: "wrong method", method: "GET", path: "/v1/chat/completions",
			wantStatus: 405, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "Invalid method"},
		{name: "malformed json", method: "POST", path: "/v1/chat/completions", body: `{"model":`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "could not parse the JSON body"},
		{name: "empty body", method: "POST", path: "/chat/completions",
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "could not parse the JSON body"},
		{name: "wrong type", method: "POST", path: "/v1/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":5}]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "messages[0].content"},
		{name: "missing model", method: "POST", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "model"},
		{name: "missing messages", method: "POST", path: "/v1/chat/completions", body: `{"model":"m"}`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: `"messages"`, wantCode: `"missing_required_parameter"`, wantInMsg: "messages"},
		{name: "empty messages", method: "POST", path: "/v1/chat/completions", body: `{"model":"m","messages":[]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: `"messages"`, wantCode: `"empty_array"`, wantInMsg: "messages"},
		{name: "unknown model", method: "GET", path: "/v1/models/nope",
			wantStatus: 404, wantType: "invalid_request_error", wantParam: `"model"`, wantCode: `"model_not_found"`, wantInMsg: "nope"},
		{name: "bad fault header", method: "POST", path: "/v1/chat/completions", body: chatBody, headers: []string{FaultHeader, "status=oops"},
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "status=oops"},
		{name: "unknown fault", method: "POST", path: "/v1/chat/completions", body: chatBody, headers: []string{FaultHeader, "explode"},
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "null", wantCode: "null", wantInMsg: "unknown fault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t)
			res, body := post(t, srv, tt.method, tt.path, tt.body, tt.headers...)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			e := decodeError(t, body)
			if e.Error.Type != tt.wantType || string(e.Error.Param) != tt.wantParam || string(e.Error.Code) != tt.wantCode || !strings.Contains(e.Error.Message, tt.wantInMsg) {
				t.Errorf("error %s, want type %s param %s code %s and a message with %q", body, tt.wantType, tt.wantParam, tt.wantCode, tt.wantInMsg)
			}
		})
	}
}

func TestRequiredKey(t *testing.T) {
	tests := []struct {
		name       string
		auth       string
		wantStatus int
		wantCode   string
	}{
		{name: "missing", wantStatus: 401, wantCode: "null"},
		{name: "wrong", auth: "Bearer sk-wrong-key-123", wantStatus: 401, wantCode: `"invalid_api_key"`},
		{name: "not bearer", auth: "Basic " + testKey, wantStatus: 401, wantCode: "null"},
		{name: "right", auth: "Bearer " + testKey, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t, WithRequiredKey(testKey))
			var headers []string
			if tt.auth != "" {
				headers = []string{"Authorization", tt.auth}
			}
			res, body := post(t, srv, "POST", "/v1/chat/completions", chatBody, headers...)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.wantStatus, body)
			}
			if got := srv.Requests()[0].Header.Get("Authorization"); got != tt.auth {
				t.Errorf("recorded Authorization %q, want %q", got, tt.auth)
			}
			if tt.wantStatus == 200 {
				return
			}
			e := decodeError(t, body)
			if e.Error.Type != "invalid_request_error" || string(e.Error.Code) != tt.wantCode {
				t.Errorf("error %s, want code %s", body, tt.wantCode)
			}
			if strings.Contains(e.Error.Message, "sk-wrong-key-123") {
				t.Errorf("error message shows the whole key: %s", e.Error.Message)
			}
		})
	}
}

func TestRequiredKeySDK(t *testing.T) {
	srv := NewServer(t, WithRequiredKey(testKey))
	right := newClient(t, srv.URL)
	if _, err := right.Chat.Completions.New(context.Background(), chatParams()); err != nil {
		t.Fatalf("right key: %v", err)
	}
	wrong := newClient(t, srv.URL, option.WithAPIKey("sk-other"))
	_, err := wrong.Chat.Completions.New(context.Background(), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Fatalf("wrong key: %v, want a 401 invalid_api_key", err)
	}
}
