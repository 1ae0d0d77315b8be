package tollgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// sdk returns the official OpenAI client tracked by the engine: one option.
func sdk(g *gateway) *openai.Client {
	c := openai.NewClient(
		option.WithBaseURL(g.upstream.URL+"/v1"),
		option.WithAPIKey("sk-client-own-key"),
		option.WithHTTPClient(&http.Client{Transport: g.eng.Transport()}),
		option.WithMaxRetries(0),
	)
	return &c
}

var chatParams = openai.ChatCompletionNewParams{
	Model: "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are terse."),
		openai.UserMessage("Say hello to the gateway"),
	},
}

func TestTransportChat(t *testing.T) {
	g := newGateway(t, "", providertest.WithCachedTokens(3), providertest.WithReasoningTokens(2))
	ctx := core.WithMetadata(core.WithCustomer(context.Background(), "acme"), "team", "ml")
	got, err := sdk(g).Chat.Completions.New(ctx, chatParams)
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != providertest.DefaultReply {
		t.Errorf("reply = %q", got.Choices[0].Message.Content)
	}
	reqs := g.upstream.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	if h := reqs[0].Header.Get("Authorization"); h != "Bearer sk-client-own-key" {
		t.Errorf("transport mode must forward the SDK's own key, upstream saw %q", h)
	}
	want, _ := g.upstream.ExpectedUsage(reqs[0].Body)
	ev := g.onlyEvent(t)
	wantUsage(t, ev, want)
	if int64(got.Usage.PromptTokens) != ev.InputTokens || int64(got.Usage.CompletionTokens) != ev.OutputTokens {
		t.Errorf("event usage differs from what the SDK parsed: %+v vs %+v", ev, got.Usage)
	}
	if ev.CustomerID != "acme" || ev.Metadata["team"] != "ml" || ev.Status != core.StatusOK || ev.HTTPStatus != 200 ||
		ev.Provider != "openai" || ev.Model != "gpt-4o-mini" || ev.Operation != "chat.completions" || ev.Stream {
		t.Errorf("event = %+v", ev)
	}
	if ev.ID == "" || ev.RequestID == "" || ev.Timestamp.IsZero() {
		t.Errorf("event lacks id, request_id or timestamp: %+v", ev)
	}
}

func TestTransportChatStream(t *testing.T) {
	for _, clientAsked := range []bool{false, true} {
		name := map[bool]string{false: "gateway asks for usage", true: "client asks for usage"}[clientAsked]
		t.Run(name, func(t *testing.T) {
			g := newGateway(t, "")
			params := chatParams
			if clientAsked {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := sdk(g).Chat.Completions.NewStreaming(core.WithCustomer(context.Background(), "acme"), params)
			var acc openai.ChatCompletionAccumulator
			chunks, usageChunks := 0, 0
			for stream.Next() {
				c := stream.Current()
				acc.AddChunk(c)
				chunks++
				if len(c.Choices) == 0 {
					usageChunks++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if acc.Choices[0].Message.Content != providertest.DefaultReply {
				t.Errorf("streamed reply = %q", acc.Choices[0].Message.Content)
			}
			wantChunks := 1 // a usage chunk only when the client asked
			if !clientAsked {
				wantChunks = 0
			}
			if usageChunks != wantChunks {
				t.Errorf("client saw %d usage chunks, want %d", usageChunks, wantChunks)
			}
			up := g.upstream.Requests()[0]
			var sent struct {
				StreamOptions struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
			}
			json.Unmarshal(up.Body, &sent)
			if !sent.StreamOptions.IncludeUsage {
				t.Errorf("upstream was not asked for usage: %s", up.Body)
			}
			want, _ := g.upstream.ExpectedUsage(up.Body)
			ev := g.onlyEvent(t)
			wantUsage(t, ev, want)
			if !ev.Stream || ev.Status != core.StatusOK || ev.TimeToFirstToken == nil || ev.UsageEstimated {
				t.Errorf("event = %+v", ev)
			}
		})
	}
}

func TestTransportUpstreamErrorIsTheSDKsError(t *testing.T) {
	g := newGateway(t, "")
	g.upstream.Inject(providertest.Fault{Status: 429, RetryAfter: time.Second})
	_, err := sdk(g).Chat.Completions.New(context.Background(), chatParams)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("want the SDK's 429 API error, got %v", err)
	}
	ev := g.onlyEvent(t)
	if ev.Status != core.StatusUpstreamError || ev.HTTPStatus != 429 {
		t.Errorf("event = %+v", ev)
	}
}

func TestTransportValidationErrorInOpenAIShape(t *testing.T) {
	g := newGateway(t, "")
	_, err := sdk(g).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini"})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "messages" {
		t.Fatalf("want a 400 on messages, got %v", err)
	}
	if n := len(g.upstream.Requests()); n != 0 {
		t.Errorf("an invalid call reached upstream %d times", n)
	}
	if ev := g.onlyEvent(t); ev.Status != core.StatusInvalid || ev.HTTPStatus != 400 {
		t.Errorf("event = %+v", ev)
	}
}

// A call the transport cannot track (an OpenAI-compatible server whose
// base URL does not end in /v1, such as OpenRouter's /api/v1) reaches the
// upstream untracked; that must not go unnoticed: the first such call to a
// host is logged as a warning naming it.
func TestTransportWarnsOfUntrackedCalls(t *testing.T) {
	up := providertest.NewServer(t)
	var logs logbuf.Buffer
	dir := t.TempDir()
	eng := engineFor(t, dir, up.URL, "pipeline:\n  - {name: call, kind: builtin}\n", slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { eng.Close(context.Background()) })
	hc := &http.Client{Transport: eng.Transport()}
	for _, path := range []string{"/v1/models", "/api/v1/chat/completions", "/api/v1/models", "/v1/chat/completions"} {
		resp, err := hc.Post(up.URL+path, "application/json", strings.NewReader(`{"model":"gpt-4o-mini","messages":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var warnings []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "untracked") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "level=WARN") ||
		!strings.Contains(warnings[0], "path=/api/v1/chat/completions") || !strings.Contains(warnings[0], strings.TrimPrefix(up.URL, "http://")) {
		t.Errorf("want one warning naming the host and the first untracked path, got %q", warnings)
	}
}

// TestHeadPassesThrough: a HEAD answer has no body, whatever its
// Content-Length says; the call stage read one and answered 502
// upstream_read_failed ("EOF"), or for an error "its error body could not
// be passed on: EOF".
func TestHeadPassesThrough(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			g := newGateway(t, "")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write([]byte(`{"object":"list","data":[]}`))
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodHead, srv.URL+"/v1/models", nil)
			resp, err := (&http.Client{Transport: g.eng.Transport()}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("HEAD /v1/models: %d, want the upstream's %d", resp.StatusCode, status)
			}
			if ev := g.onlyEvent(t); ev.HTTPStatus != status || strings.Contains(ev.Error, "EOF") {
				t.Errorf("event: http_status %d, error %q; want %d and no EOF", ev.HTTPStatus, ev.Error, status)
			}
		})
	}
}

// TestCallAfterCloseIsRefused: a call made after Engine.Close is refused
// with a 503, rather than sent upstream by the retired pipeline, whose
// closed outbox then dropped its usage event.
func TestCallAfterCloseIsRefused(t *testing.T) {
	g := newGateway(t, "")
	g.close(t)
	_, err := sdk(g).Chat.Completions.New(core.WithCustomer(context.Background(), "acme"), chatParams)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || !strings.Contains(apiErr.Message, "closed") {
		t.Errorf("a call after Close got %v; want a 503 saying the gateway is closed", err)
	}
	if n := len(g.upstream.Requests()); n != 0 {
		t.Errorf("a call after Close reached the upstream %d times", n)
	}
}
