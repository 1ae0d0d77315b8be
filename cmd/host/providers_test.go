package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
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

// The provider keys planted in the host's environment.
const (
	plantedAnthropicKey = "sk-ant-e2e-planted-5a7f"
	plantedGeminiKey    = "AIzaE2EPlantedGemini33"
	plantedAzureKey     = "azure-e2e-planted-0c4d"
)

var allKeys = []string{"E2E_OPENAI_KEY=" + plantedKey, "E2E_ANTHROPIC_KEY=" + plantedAnthropicKey,
	"E2E_GEMINI_KEY=" + plantedGeminiKey, "E2E_AZURE_KEY=" + plantedAzureKey}

// checkHostEvents checks each usage event against the fake's usage for the
// request that reached it, and that a streamed call and a whole one agree.
func checkHostEvents(t *testing.T, up *providertest.Server, evs []core.UsageEvent, provider string, ops []string) {
	t.Helper()
	reqs := up.Requests()
	if len(evs) != len(ops) || len(reqs) != len(ops) {
		t.Fatalf("want %d events and upstream calls, got %d and %d: %+v", len(ops), len(evs), len(reqs), evs)
	}
	for i, ev := range evs {
		want, err := up.ExpectedUsageOf(reqs[i])
		if err != nil {
			t.Fatal(err)
		}
		got := [6]int64{ev.InputTokens, ev.OutputTokens, ev.TotalTokens, ev.CachedInputTokens, ev.CacheWriteTokens, ev.ReasoningTokens}
		exp := [6]int64{int64(want.PromptTokens), int64(want.CompletionTokens), int64(want.TotalTokens), int64(want.CachedTokens),
			int64(want.CacheWriteTokens), int64(want.ReasoningTokens)}
		if got != exp {
			t.Errorf("event %d usage [in out total cached write reasoning] = %v, want %v", i, got, exp)
		}
		if ev.Provider != provider || ev.Operation != ops[i] || ev.CustomerID != "acme" || ev.Status != core.StatusOK || ev.UsageEstimated {
			t.Errorf("event %d = %+v", i, ev)
		}
		if i == 1 && (ev.InputTokens != evs[0].InputTokens || ev.OutputTokens != evs[0].OutputTokens) {
			t.Errorf("streamed usage %+v differs from the whole answer's %+v", ev, evs[0])
		}
	}
}

func TestServeWithTheAnthropicSDK(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithCachedTokens(4), providertest.WithCacheWriteTokens(3),
		providertest.WithRequiredKey(plantedAnthropicKey))
	h := startHost(t, up.URL, allKeys...)
	c := anthropic.NewClient(aoption.WithBaseURL(h.url), aoption.WithAPIKey("sk-ant-client"), aoption.WithMaxRetries(0),
		aoption.WithHeader("X-Tollgate-Customer", "acme"), aoption.WithHeader("anthropic-beta", "prompt-caching-2024-07-31"))
	params := anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello from the end to end test"))}}
	msg, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	for stream.Next() {
		acc.Accumulate(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != providertest.DefaultReply || acc.Content[0].Text != providertest.DefaultReply {
		t.Errorf("replies %q and %q", msg.Content[0].Text, acc.Content[0].Text)
	}
	if acc.Usage.CacheReadInputTokens != 4 || acc.Usage.OutputTokens != msg.Usage.OutputTokens {
		t.Errorf("SDK's streamed usage %+v", acc.Usage)
	}
	h.stop(t)
	for _, r := range up.Requests() {
		if r.Header.Get("X-Api-Key") != plantedAnthropicKey || r.Header.Get("Authorization") != "" {
			t.Errorf("upstream must get the gateway's key in x-api-key only: %v", r.Header)
		}
		if r.Header.Get("Anthropic-Beta") != "prompt-caching-2024-07-31" || r.Header.Get("Anthropic-Version") == "" {
			t.Errorf("anthropic-version and anthropic-beta must pass as the SDK sent them: %v", r.Header)
		}
	}
	checkHostEvents(t, up, h.events(t), "anthropic", []string{"messages", "messages"})
}

func TestServeWithTheGeminiSDK(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithReasoningTokens(5), providertest.WithRequiredKey(plantedGeminiKey))
	h := startHost(t, up.URL, allKeys...)
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: "AIza-client", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url, Headers: http.Header{"X-Tollgate-Customer": {"acme"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := c.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Hello from the end to end test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for chunk, err := range c.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("Hello from the end to end test"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if resp.Text() != providertest.DefaultReply || text.String() != providertest.DefaultReply {
		t.Errorf("replies %q and %q", resp.Text(), text.String())
	}
	if resp.UsageMetadata.ThoughtsTokenCount != 5 {
		t.Errorf("SDK usage %+v", resp.UsageMetadata)
	}

	// A key in the query string: used by no one, seen by no one.
	const queryKey = "AIzaQueryKeyMustVanish77"
	r, _ := http.NewRequest(http.MethodPost, h.url+"/v1beta/models/gemini-2.5-flash:generateContent?key="+queryKey,
		strings.NewReader(`{"contents":[{"parts":[{"text":"Hello from the end to end test"}]}]}`))
	r.Header.Set("X-Tollgate-Customer", "acme")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("?key= call: %d", res.StatusCode)
	}
	h.stop(t)
	reqs := up.Requests()
	for _, r := range reqs {
		if r.Header.Get("X-Goog-Api-Key") != plantedGeminiKey || strings.Contains(r.RawQuery, "key=") {
			t.Errorf("upstream must get the gateway's key in x-goog-api-key only: %v ?%s", r.Header, r.RawQuery)
		}
	}
	usage, _ := os.ReadFile(h.usage)
	for _, secret := range []string{queryKey, "AIza-client", plantedGeminiKey} {
		if strings.Contains(h.stderr.String(), secret) || strings.Contains(string(usage), secret) {
			t.Errorf("%q reached the logs or the usage events", secret)
		}
	}
	checkHostEvents(t, up, h.events(t), "gemini", []string{"generateContent", "streamGenerateContent", "generateContent"})
}

func TestServeOpenAIEmbeddingsAndResponses(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithCachedTokens(2), providertest.WithReasoningTokens(3))
	h := startHost(t, up.URL, allKeys...)
	c := openai.NewClient(option.WithBaseURL(h.url+"/v1"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0),
		option.WithHeader("X-Tollgate-Customer", "acme"))
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello from the end to end test")}}
	resp, err := c.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	stream := c.Responses.NewStreaming(ctx, params)
	var text strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != providertest.DefaultReply || text.String() != providertest.DefaultReply {
		t.Errorf("replies %q and %q", resp.OutputText(), text.String())
	}
	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("embed these four words")}})
	if err != nil || len(emb.Data) != 1 || emb.Usage.PromptTokens != 4 {
		t.Fatalf("embeddings %+v %v", emb, err)
	}
	h.stop(t)
	checkHostEvents(t, up, h.events(t), "openai", []string{"responses", "responses", "embeddings"})
}

func TestServeNamedUpstreams(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL, allKeys...)
	chat := func(base, model string, opts ...option.RequestOption) error {
		c := openai.NewClient(append([]option.RequestOption{option.WithBaseURL(base), option.WithAPIKey("sk-client"),
			option.WithMaxRetries(0), option.WithHeader("X-Tollgate-Customer", "acme")}, opts...)...)
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("route me")}})
		return err
	}
	if err := chat(h.url+"/azure-eu/v1", "gpt-4o-mini"); err != nil {
		t.Fatal(err)
	}
	if err := chat(h.url+"/v1", "gpt-4o", option.WithHeader("X-Tollgate-Upstream", "azure-eu")); err != nil {
		t.Fatal(err)
	}
	if err := chat(h.url+"/v1", "llama-3.1-8b"); err != nil {
		t.Fatal(err)
	}
	err := chat(h.url+"/v1", "gpt-4o", option.WithHeader("X-Tollgate-Upstream", "mars"))
	var apiErr *openai.Error
	if !asAPIError(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Message, "configured upstreams: ") ||
		!strings.Contains(apiErr.Message, "azure-eu") {
		t.Errorf("unknown upstream: %v", err)
	}
	h.stop(t)
	reqs := up.Requests()
	if len(reqs) != 3 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	wants := []struct{ path, query, key, auth string }{
		{"/openai/deployments/mini-prod/chat/completions", "api-version=2024-10-21", plantedAzureKey, ""},
		{"/openai/deployments/gpt-4o/chat/completions", "api-version=2024-10-21", plantedAzureKey, ""},
		{"/v1/chat/completions", "", "", ""},
	}
	for i, w := range wants {
		r := reqs[i]
		if r.Path != w.path || r.RawQuery != w.query || r.Header.Get("Api-Key") != w.key || r.Header.Get("Authorization") != w.auth ||
			r.Header.Get("X-Tollgate-Upstream") != "" {
			t.Errorf("request %d: %s ?%s api-key %q auth %q, want %+v", i, r.Path, r.RawQuery, r.Header.Get("Api-Key"), r.Header.Get("Authorization"), w)
		}
	}
	evs := h.events(t)
	for i, name := range []string{"azure-eu", "azure-eu", "local", ""} {
		if i < len(evs) && evs[i].Upstream != name {
			t.Errorf("event %d upstream %q, want %q", i, evs[i].Upstream, name)
		}
	}
}

func asAPIError(err error, target **openai.Error) bool { return errors.As(err, target) }

func TestServePassesOtherEndpointsThrough(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL, allKeys...)
	oc := openai.NewClient(option.WithBaseURL(h.url+"/v1"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0),
		option.WithHeader("X-Tollgate-Customer", "acme"))
	ac := anthropic.NewClient(aoption.WithBaseURL(h.url), aoption.WithAPIKey("sk-ant-client"), aoption.WithMaxRetries(0),
		aoption.WithHeader("X-Tollgate-Customer", "acme"))
	ctx := context.Background()
	if m, err := oc.Models.List(ctx); err != nil || len(m.Data) == 0 {
		t.Fatalf("openai models: %v", err)
	}
	if _, err := oc.Files.List(ctx, openai.FileListParams{}); err != nil {
		t.Fatalf("openai files: %v", err)
	}
	if m, err := ac.Models.List(ctx, anthropic.ModelListParams{}); err != nil || len(m.Data) == 0 {
		t.Fatalf("anthropic models: %v", err)
	}
	n, err := ac.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-haiku-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count these"))}})
	if err != nil || n.InputTokens != 9 {
		t.Fatalf("count_tokens %+v %v", n, err)
	}
	h.stop(t)
	reqs := up.Requests()
	if reqs[0].Header.Get("Authorization") != "Bearer "+plantedKey || reqs[2].Header.Get("X-Api-Key") != plantedAnthropicKey {
		t.Errorf("passed-through calls must carry the gateway's keys: %v / %v", reqs[0].Header, reqs[2].Header)
	}
	want := []struct{ provider, op string }{{"openai", "models.list"}, {"openai", "files"}, {"anthropic", "models.list"},
		{"anthropic", "messages.count_tokens"}}
	evs := h.events(t)
	if len(evs) != len(want) {
		t.Fatalf("events %+v", evs)
	}
	for i, w := range want {
		if ev := evs[i]; ev.Provider != w.provider || ev.Operation != w.op || ev.Status != core.StatusOK || ev.TotalTokens != 0 {
			t.Errorf("event %d = %+v, want %s %s without tokens", i, ev, w.provider, w.op)
		}
	}
}
