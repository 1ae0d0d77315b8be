package openai_test

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// TestCompatibleServersStreamErrors: the error shapes OpenAI-compatible
// servers send inside a 200 stream are the stream's failure, with the
// server's own type and message, whether or not [DONE] follows; the
// content chunks before it stay counted.
func TestCompatibleServersStreamErrors(t *testing.T) {
	const (
		chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n"
		done  = "data: [DONE]\n\n"
	)
	tests := []struct {
		name, event, wantFailure string
	}{
		{"vllm's ErrorResponse unwrapped", `data: {"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}`,
			"BadRequestError: This model's maximum context length is 4096 tokens"},
		{"vllm's ErrorResponse with spaces", `data: { "object" : "error", "message": "boom", "type": "InternalServerError", "param": null, "code": 500 }`,
			"InternalServerError: boom"},
		{"vllm's ErrorResponse wrapped", `data: {"error":{"object":"error","message":"boom","type":"BadRequestError","param":null,"code":400}}`,
			"BadRequestError: boom"},
		{"openai's error object", `data: {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}`,
			"server_error: The server had an error while processing your request."},
		{"an error that is a message", `data: {"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}`,
			"generation: Request failed during generation: Server error: CUDA out of memory"},
		{"an error object beside the choices", `data: {"id":"gen-1","object":"chat.completion.chunk","created":1,"model":"m","provider":"p","error":{"code":502,"message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`,
			"502: Provider disconnected"},
		{"an error message alone", `data: {"error":{"message":"overloaded"}}`, "overloaded"},
	}
	for _, tt := range tests {
		for _, end := range []string{"", done} {
			t.Run(tt.name+map[string]string{"": "", done: " then [DONE]"}[end], func(t *testing.T) {
				// The longer chunk after the error reuses the stream's
				// buffer: the failure must not change with it.
				raw := chunk + tt.event + "\n\n" + chunk + chunk + end
				obs := openai.New().ObserveStream(&core.Request{Operation: openai.OpChatCompletions})
				u, finished := observeN(t, obs, []byte(raw), 100)
				if f := obs.(core.StreamFailer).Failure(); f != tt.wantFailure {
					t.Errorf("failure %q; want %q", f, tt.wantFailure)
				}
				if u.OutputTokens != 3 || !u.Estimated || finished != (end != "") {
					t.Errorf("usage %+v finished %v; want the 3 content chunks, estimated, finished %v", u, finished, end != "")
				}
			})
		}
	}
}

// TestChunksThatAreNotErrors: chunks that only look like errors are not
// the stream's failure.
func TestChunksThatAreNotErrors(t *testing.T) {
	for _, data := range []string{
		`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"the error"}}]}`,
		`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"error":null}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{\"error\":{\"message\":\"x\"}}"}}]}}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{},"content_filter_results":{"error":{"code":"x","message":"y"}}}]}`,
		`{"errors":[{"message":"not the key"}]}`,
		`{"objects":"error"}`,
		`{"object":"errors"}`,
	} {
		obs := openai.New().ObserveStream(&core.Request{Operation: openai.OpChatCompletions})
		observeWith(t, obs, []byte("data: "+data+"\n\ndata: [DONE]\n\n"))
		if f := obs.(core.StreamFailer).Failure(); f != "" {
			t.Errorf("%s: failure %q; want none", data, f)
		}
	}
}

// TestAnswerFailure: a whole 200 answer that is an error in place of the
// answer is described, and its usage is estimated saying so; answers that
// only mention an error are not.
func TestAnswerFailure(t *testing.T) {
	tests := []struct {
		name, op, body, want string
	}{
		{"vllm", openai.OpChatCompletions, `{"object":"error","message":"boom","type":"BadRequestError","param":null,"code":400}`, "BadRequestError: boom"},
		{"openai's shape", openai.OpEmbeddings, `{"error":{"message":"boom","type":"server_error"}}`, "server_error: boom"},
		{"a message", openai.OpCompletions, `{"error":"boom","error_type":"generation"}`, "generation: boom"},
		{"beside the choices", openai.OpChatCompletions, `{"id":"gen-1","error":{"code":502,"message":"gone"},"choices":[]}`, "502: gone"},
		{"a responses error", openai.OpResponses, `{"error":{"message":"boom","type":"server_error"}}`, "server_error: boom"},
		{"an answer about an error", openai.OpChatCompletions, `{"id":"c","choices":[{"message":{"content":"the \"error\": key"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`, ""},
		{"an answer with a null error", openai.OpChatCompletions, `{"id":"c","error":null,"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`, ""},
		{"a response object", openai.OpResponses, `{"id":"r","object":"response","status":"completed","error":null,"usage":{"input_tokens":1,"output_tokens":1}}`, ""},
		{"a passed-through operation", "files", `{"error":{"message":"boom"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &core.Request{Operation: tt.op}
			if got := openai.New().AnswerFailure(req, []byte(tt.body)); got != tt.want {
				t.Errorf("AnswerFailure = %q, want %q", got, tt.want)
			}
			u, _ := openai.New().Usage(req, []byte(tt.body))
			if isError := strings.Contains(u.Problem, "the answer is the upstream's error"); isError != (tt.want != "") ||
				isError && (!u.Estimated || !strings.Contains(u.Problem, tt.want)) {
				t.Errorf("usage %+v; want it estimated, saying the answer is the error %q: %v", u, tt.want, tt.want != "")
			}
		})
	}
}
