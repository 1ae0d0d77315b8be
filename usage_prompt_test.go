package tollgate_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/tollgate-dev/tollgate/core"
)

// holdingUpstream sends first (the response's head and its first events)
// and then nothing until the gateway hangs up, as a model still writing
// does: the usage OpenAI sends last never comes. gone is closed once the
// gateway has hung up.
func holdingUpstream(first string) (h http.HandlerFunc, gone chan struct{}) {
	gone = make(chan struct{})
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		eventStream(w, first)
		<-r.Context().Done()
		close(gone)
	}, gone
}

// waitGone waits for the gateway to hang up on the upstream; the bound
// only stops a test that would hang.
func waitGone(t *testing.T, gone chan struct{}) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not hang up on the upstream after the client went away")
	}
}

// The prompt both tests send — "You are terse." and "Say hello to the
// gateway", 38 bytes of text in two messages — is estimated at 21 tokens:
// 38/4 rounded up, 4 a message and 3 for the reply.
const (
	terse         = "You are terse."
	sayHello      = "Say hello to the gateway"
	helloEstimate = 21
	chatHello     = `{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"` + terse + `"},{"role":"user","content":"` + sayHello + `"}]}`
	firstChunk    = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}` + "\n\n"
)

// TestCutShortStreamEstimatesItsPrompt: an OpenAI-format stream that the
// client abandons never gets the usage chunk, but the upstream bills the
// whole prompt: the event records the prompt's estimate as its input,
// flagged, beside the output counted from the chunks that passed —
// whether the client left after the first chunk or before it (a long
// prompt's first token comes late), through the host or an SDK's
// transport, on chat completions, the Responses API and Gemini's
// OpenAI-compatible endpoint.
func TestCutShortStreamEstimatesItsPrompt(t *testing.T) {
	tests := []struct {
		name, path, first string
		wantOut           int64
	}{
		{"chat after the first chunk", chatPath, firstChunk, 1},
		{"chat before the first chunk", chatPath, "", 0},
		{"gemini's openai-compatible endpoint", "/v1beta/openai/chat/completions", firstChunk, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, gone := holdingUpstream(tt.first)
			g, _ := newUpstreamGateway(t, h, "")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, serveGateway(t, g)+tt.path, strings.NewReader(chatHello))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(bufio.NewReader(resp.Body), make([]byte, len(tt.first))); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d, %v: want a 200 and the first chunk", resp.StatusCode, err)
			}
			cancel() // the user pressed stop
			resp.Body.Close()
			waitGone(t, gone)
			checkPromptEstimated(t, g.onlyEvent(t), tt.wantOut)
		})
	}
	t.Run("the SDK's chat stream closed", func(t *testing.T) {
		h, gone := holdingUpstream(firstChunk)
		g, up := newUpstreamGateway(t, h, "")
		stream := sdkAt(g, up).Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(terse), openai.UserMessage(sayHello)},
		})
		if !stream.Next() || stream.Current().Choices[0].Delta.Content != "Hello" {
			t.Fatalf("the first chunk: %v", stream.Err())
		}
		stream.Close()
		waitGone(t, gone)
		checkPromptEstimated(t, g.onlyEvent(t), 1)
	})
	t.Run("the SDK's responses stream closed", func(t *testing.T) {
		h, gone := holdingUpstream("event: response.output_text.delta\n" +
			`data: {"type":"response.output_text.delta","item_id":"m1","output_index":0,"content_index":0,"delta":"Hello","sequence_number":1}` + "\n\n")
		g, up := newUpstreamGateway(t, h, "")
		stream := sdkAt(g, up).Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
			Model:        "gpt-4o",
			Instructions: openai.String(terse),
			Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String(sayHello)},
		})
		if !stream.Next() || stream.Current().Delta != "Hello" {
			t.Fatalf("the first event: %v", stream.Err())
		}
		stream.Close()
		waitGone(t, gone)
		checkPromptEstimated(t, g.onlyEvent(t), 1)
	})
}

// sdkAt is the official OpenAI client calling the upstream at up through
// the engine's transport.
func sdkAt(g *gateway, up string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(up+"/v1"), option.WithAPIKey("sk-client-own-key"),
		option.WithHTTPClient(&http.Client{Transport: g.eng.Transport()}), option.WithMaxRetries(0))
	return &c
}

func checkPromptEstimated(t *testing.T, ev core.UsageEvent, wantOut int64) {
	t.Helper()
	if ev.Status != core.StatusClientAborted || ev.InputTokens != helloEstimate || ev.OutputTokens != wantOut ||
		ev.TotalTokens != helloEstimate+wantOut || !ev.UsageEstimated {
		t.Errorf("event %s, %d in, %d out, %d total (estimated %v); want client_aborted, the prompt's %d in, %d out, estimated",
			ev.Status, ev.InputTokens, ev.OutputTokens, ev.TotalTokens, ev.UsageEstimated, helloEstimate, wantOut)
	}
}
