package tollgate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// fullUsage makes the fake report every kind of token: cache reads, cache
// writes (Anthropic) and reasoning, so each is checked to the token.
var fullUsage = []providertest.Option{providertest.WithCachedTokens(3), providertest.WithCacheWriteTokens(2),
	providertest.WithReasoningTokens(2)}

func anthropicSDK(g *gateway) anthropic.Client {
	return anthropic.NewClient(
		aoption.WithBaseURL(g.upstream.URL),
		aoption.WithAPIKey("sk-ant-client-own-key"),
		aoption.WithHTTPClient(&http.Client{Transport: g.eng.Transport()}),
		aoption.WithMaxRetries(0),
	)
}

func geminiSDK(t *testing.T, g *gateway) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      "AIza-client-own-key",
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{Transport: g.eng.Transport()},
		HTTPOptions: genai.HTTPOptions{BaseURL: g.upstream.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var anthropicParams = anthropic.MessageNewParams{
	Model:     "claude-sonnet-4-5",
	MaxTokens: 256,
	System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
	Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello to the gateway"))},
}

// checkEvents checks each event against the fake's usage for the request
// that reached it, and the event fields every call shares.
func checkEvents(t *testing.T, g *gateway, provider, model string, ops []string, streams []bool) []core.UsageEvent {
	t.Helper()
	reqs := g.upstream.Requests()
	evs := g.events(t)
	if len(evs) != len(streams) || len(reqs) != len(streams) {
		t.Fatalf("want %d events and upstream calls, got %d and %d: %+v", len(streams), len(evs), len(reqs), evs)
	}
	for i, ev := range evs {
		want, err := g.upstream.ExpectedUsageOf(reqs[i])
		if err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ev, want)
		if ev.Provider != provider || ev.Operation != ops[i] || ev.Model != model || ev.Stream != streams[i] ||
			ev.Status != core.StatusOK || ev.HTTPStatus != 200 || ev.CustomerID != "acme" || ev.UsageEstimated {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	if len(evs) == 2 {
		a, b := evs[0], evs[1]
		if [6]int64{a.InputTokens, a.OutputTokens, a.TotalTokens, a.CachedInputTokens, a.CacheWriteTokens, a.ReasoningTokens} !=
			[6]int64{b.InputTokens, b.OutputTokens, b.TotalTokens, b.CachedInputTokens, b.CacheWriteTokens, b.ReasoningTokens} {
			t.Errorf("streamed usage differs from the whole answer's:\n%+v\n%+v", a, b)
		}
	}
	return evs
}

func TestTransportAnthropicMessages(t *testing.T) {
	g := newGateway(t, "", fullUsage...)
	c := anthropicSDK(g)
	ctx := core.WithCustomer(context.Background(), "acme")

	msg, err := c.Messages.New(ctx, anthropicParams)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != providertest.DefaultReply {
		t.Errorf("reply %q", msg.Content[0].Text)
	}
	stream := c.Messages.NewStreaming(ctx, anthropicParams)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Content[0].Text != providertest.DefaultReply {
		t.Errorf("streamed reply %q", acc.Content[0].Text)
	}
	for _, r := range g.upstream.Requests() {
		if !strings.Contains(r.Header.Get("X-Api-Key")+r.Header.Get("Authorization"), "sk-ant-client-own-key") || r.Header.Get("Anthropic-Version") == "" {
			t.Errorf("transport mode must forward the SDK's own key and version: %v", r.Header)
		}
	}
	evs := checkEvents(t, g, "anthropic", "claude-sonnet-4-5", []string{"messages", "messages"}, []bool{false, true})
	for i, u := range []anthropic.Usage{msg.Usage, acc.Usage} {
		in := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
		if evs[i].InputTokens != in || evs[i].OutputTokens != u.OutputTokens || evs[i].CachedInputTokens != u.CacheReadInputTokens ||
			evs[i].CacheWriteTokens != u.CacheCreationInputTokens {
			t.Errorf("event %d differs from what the SDK parsed: %+v vs %+v", i, evs[i], u)
		}
	}
	if evs[0].RequestID == "" {
		t.Errorf("no request id from Anthropic's request-id header: %+v", evs[0])
	}
}

func TestTransportGeminiGenerateContent(t *testing.T) {
	g := newGateway(t, "", fullUsage...)
	c := geminiSDK(t, g)
	ctx := core.WithCustomer(context.Background(), "acme")
	cfg := &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("You are terse.", genai.RoleUser)}
	contents := genai.Text("Say hello to the gateway")

	resp, err := c.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != providertest.DefaultReply {
		t.Errorf("reply %q", resp.Text())
	}
	var text strings.Builder
	var last *genai.GenerateContentResponse
	for chunk, err := range c.Models.GenerateContentStream(ctx, "gemini-2.5-flash", contents, cfg) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
		last = chunk
	}
	if text.String() != providertest.DefaultReply {
		t.Errorf("streamed reply %q", text.String())
	}
	reqs := g.upstream.Requests()
	if reqs[1].RawQuery != "alt=sse" {
		t.Errorf("stream query %q", reqs[1].RawQuery)
	}
	for _, r := range reqs {
		if r.Header.Get("X-Goog-Api-Key") != "AIza-client-own-key" {
			t.Errorf("transport mode must forward the SDK's own key: %v", r.Header)
		}
	}
	evs := checkEvents(t, g, "gemini", "gemini-2.5-flash", []string{"generateContent", "streamGenerateContent"}, []bool{false, true})
	for i, m := range []*genai.GenerateContentResponseUsageMetadata{resp.UsageMetadata, last.UsageMetadata} {
		if evs[i].InputTokens != int64(m.PromptTokenCount) || evs[i].TotalTokens != int64(m.TotalTokenCount) ||
			evs[i].ReasoningTokens != int64(m.ThoughtsTokenCount) || evs[i].CachedInputTokens != int64(m.CachedContentTokenCount) {
			t.Errorf("event %d differs from what the SDK parsed: %+v vs %+v", i, evs[i], m)
		}
	}
}

func TestTransportOpenAIEmbeddings(t *testing.T) {
	g := newGateway(t, "", fullUsage...)
	ctx := core.WithCustomer(context.Background(), "acme")
	got, err := sdk(g).Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello gateway", "one two three"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 || len(got.Data[1].Embedding) == 0 {
		t.Errorf("embeddings %+v", got.Data)
	}
	evs := checkEvents(t, g, "openai", "text-embedding-3-small", []string{"embeddings"}, []bool{false})
	if evs[0].InputTokens != 5 || evs[0].InputTokens != got.Usage.PromptTokens || evs[0].OutputTokens != 0 {
		t.Errorf("event %+v, SDK usage %+v", evs[0], got.Usage)
	}
}

func TestTransportOpenAIResponses(t *testing.T) {
	g := newGateway(t, "", fullUsage...)
	ctx := core.WithCustomer(context.Background(), "acme")
	params := responses.ResponseNewParams{
		Model:        "gpt-4o-mini",
		Instructions: openai.String("You are terse."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello to the gateway")},
	}
	resp, err := sdk(g).Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != providertest.DefaultReply {
		t.Errorf("reply %q", resp.OutputText())
	}
	stream := sdk(g).Responses.NewStreaming(ctx, params)
	var text strings.Builder
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != providertest.DefaultReply || final.Status != "completed" {
		t.Errorf("streamed reply %q, final status %q", text.String(), final.Status)
	}
	evs := checkEvents(t, g, "openai", "gpt-4o-mini", []string{"responses", "responses"}, []bool{false, true})
	for i, u := range []responses.ResponseUsage{resp.Usage, final.Usage} {
		if evs[i].InputTokens != u.InputTokens || evs[i].OutputTokens != u.OutputTokens ||
			evs[i].CachedInputTokens != u.InputTokensDetails.CachedTokens || evs[i].ReasoningTokens != u.OutputTokensDetails.ReasoningTokens {
			t.Errorf("event %d differs from what the SDK parsed: %+v vs %+v", i, evs[i], u)
		}
	}
}

func TestTransportPassthroughEndpoints(t *testing.T) {
	g := newGateway(t, "")
	ctx := core.WithCustomer(context.Background(), "acme")
	models, err := sdk(g).Models.List(ctx)
	if err != nil || len(models.Data) == 0 {
		t.Fatalf("models %+v, %v", models, err)
	}
	files, err := sdk(g).Files.List(ctx, openai.FileListParams{})
	if err != nil || files == nil {
		t.Fatalf("files: %v", err)
	}
	ac := anthropicSDK(g)
	am, err := ac.Models.List(ctx, anthropic.ModelListParams{})
	if err != nil || len(am.Data) == 0 {
		t.Fatalf("anthropic models %+v, %v", am, err)
	}
	evs := g.events(t)
	want := []struct{ provider, op string }{{"openai", "models.list"}, {"openai", "files"}, {"anthropic", "models.list"}}
	if len(evs) != len(want) {
		t.Fatalf("events %+v", evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Provider != w.provider || ev.Operation != w.op || ev.Status != core.StatusOK || ev.TotalTokens != 0 || ev.CustomerID != "acme" {
			t.Errorf("event %d = %+v, want %s %s without tokens", i, ev, w.provider, w.op)
		}
	}
}

func TestTransportProviderErrorsAreTheSDKsErrors(t *testing.T) {
	g := newGateway(t, "")
	ctx := context.Background()

	g.upstream.Inject(providertest.Fault{Status: 529})
	ac := anthropicSDK(g)
	_, err := ac.Messages.New(ctx, anthropicParams)
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 529 || !strings.Contains(aerr.Error(), "overloaded_error") {
		t.Errorf("want the SDK's 529 overloaded_error, got %v", err)
	}

	g.upstream.Inject(providertest.Fault{Status: 429})
	_, err = geminiSDK(t, g).Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("hi"), nil)
	var gerr genai.APIError
	if !errors.As(err, &gerr) || gerr.Code != 429 || gerr.Status != "RESOURCE_EXHAUSTED" {
		t.Errorf("want the SDK's 429 RESOURCE_EXHAUSTED, got %#v", err)
	}

	// Bad input never reaches upstream and gets the provider's own shape.
	bad := anthropicParams
	bad.Messages = []anthropic.MessageParam{}
	_, err = ac.Messages.New(ctx, bad)
	if !errors.As(err, &aerr) || aerr.StatusCode != 400 || !strings.Contains(aerr.Error(), "invalid_request_error") {
		t.Errorf("want a 400 invalid_request_error on messages, got %v", err)
	}
	_, err = geminiSDK(t, g).Models.GenerateContent(ctx, "gemini-2.5-flash", nil, nil)
	if !errors.As(err, &gerr) || gerr.Code != 400 || gerr.Status != "INVALID_ARGUMENT" {
		t.Errorf("want a 400 INVALID_ARGUMENT, got %#v", err)
	}
	if n := len(g.upstream.Requests()); n != 2 {
		t.Errorf("upstream got %d requests, want only the 2 valid ones", n)
	}
	evs := g.events(t)
	want := []string{core.StatusUpstreamError, core.StatusUpstreamError, core.StatusInvalid, core.StatusInvalid}
	for i, ev := range evs {
		if i < len(want) && ev.Status != want[i] {
			t.Errorf("event %d status %s, want %s", i, ev.Status, want[i])
		}
	}
}

// An OpenAI SDK pointed at Gemini's OpenAI-compatible endpoint
// (https://generativelanguage.googleapis.com/v1beta/openai/) is metered as
// the OpenAI call it is, streamed or not, through the transport or the
// host, not passed through as a Gemini operation without tokens.
func TestTransportGeminiOpenAICompatibleEndpoint(t *testing.T) {
	g := newGateway(t, "")
	// Google's endpoint: the fake's OpenAI answers under /v1beta/openai/.
	compat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/v1/" + strings.TrimPrefix(r.URL.Path, "/v1beta/openai/")
		g.upstream.ServeHTTP(w, r)
	}))
	defer compat.Close()
	c := openai.NewClient(option.WithBaseURL(compat.URL+"/v1beta/openai/"), option.WithAPIKey("AIza-client-own-key"),
		option.WithHTTPClient(&http.Client{Transport: g.eng.Transport()}), option.WithMaxRetries(0))
	ctx := core.WithCustomer(context.Background(), "acme")
	params := chatParams
	params.Model = "gemini-2.5-flash"
	if _, err := c.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
		if len(stream.Current().Choices) == 0 {
			t.Error("the client got the usage chunk it did not ask for")
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// Through the host it is an OpenAI call, routed to an OpenAI upstream.
	resp := post(t, serveGateway(t, g)+"/v1beta/openai/chat/completions",
		`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`, "X-Tollgate-Customer", "acme")
	if resp.StatusCode != 200 {
		t.Fatalf("host: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	resp.Body.Close()
	checkEvents(t, g, "openai", "gemini-2.5-flash", []string{"chat.completions", "chat.completions", "chat.completions"},
		[]bool{false, true, false})
}
