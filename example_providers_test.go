package tollgate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// exampleEngine builds an engine whose usage events go to a JSON Lines file,
// and returns a function that closes the engine and prints those events.
func exampleEngine() (*core.Engine, func()) {
	dir, _ := os.MkdirTemp("", "tollgate-example")
	usage := filepath.Join(dir, "usage.jsonl")
	cfgFile := filepath.Join(dir, "tollgate.yaml")
	os.WriteFile(cfgFile, []byte(`
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: `+usage+`}]}}
`), 0o600)
	cfg, err := config.Load(config.Options{Path: cfgFile})
	if err != nil {
		panic(err)
	}
	eng, err := tollgate.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	return eng, func() {
		eng.Close(context.Background()) // flushes usage events
		f, _ := os.Open(usage)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var ev core.UsageEvent
			json.Unmarshal(sc.Bytes(), &ev)
			fmt.Printf("usage event: %s %s %s customer=%s input=%d (cached %d, cache writes %d) output=%d (reasoning %d) total=%d\n",
				ev.Provider, ev.Operation, ev.Model, ev.CustomerID, ev.InputTokens, ev.CachedInputTokens, ev.CacheWriteTokens,
				ev.OutputTokens, ev.ReasoningTokens, ev.TotalTokens)
		}
		f.Close()
		os.RemoveAll(dir)
	}
}

// Track the official Anthropic SDK with one option: the engine's Transport.
// Cache reads and writes are counted in input_tokens, each once.
func Example_transportAnthropic() {
	upstream := httptest.NewServer(providertest.NewHandler(providertest.WithCachedTokens(4), providertest.WithCacheWriteTokens(2)))
	defer upstream.Close() // stands in for api.anthropic.com
	eng, report := exampleEngine()
	defer report()

	client := anthropic.NewClient(
		aoption.WithBaseURL(upstream.URL),
		aoption.WithAPIKey("sk-ant-your-key"),
		aoption.WithHTTPClient(&http.Client{Transport: eng.Transport()}), // the one change
	)
	ctx := core.WithCustomer(context.Background(), "acme")
	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Content[0].Text)
	fmt.Println("anthropic reports input", msg.Usage.InputTokens, "cache read", msg.Usage.CacheReadInputTokens,
		"cache write", msg.Usage.CacheCreationInputTokens)
	// Output:
	// This is a mock response from tollgate.
	// anthropic reports input 2 cache read 4 cache write 2
	// usage event: anthropic messages claude-sonnet-4-5 customer=acme input=8 (cached 4, cache writes 2) output=7 (reasoning 0) total=15
}

// Track the official Google Gen AI SDK (Gemini) with one option: an HTTP
// client whose transport is the engine's.
func Example_transportGemini() {
	upstream := httptest.NewServer(providertest.NewHandler(providertest.WithReasoningTokens(3)))
	defer upstream.Close() // stands in for generativelanguage.googleapis.com
	eng, report := exampleEngine()
	defer report()

	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      "your-gemini-key",
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{Transport: eng.Transport()}, // the one change
		HTTPOptions: genai.HTTPOptions{BaseURL: upstream.URL},
	})
	if err != nil {
		panic(err)
	}
	ctx := core.WithCustomer(context.Background(), "acme")
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("Hello"), nil) {
		if err != nil {
			panic(err)
		}
		fmt.Print(chunk.Text())
	}
	fmt.Println()
	// Output:
	// This is a mock response from tollgate.
	// usage event: gemini streamGenerateContent gemini-2.5-flash customer=acme input=8 (cached 0, cache writes 0) output=10 (reasoning 3) total=18
}

// Track the OpenAI Responses API and embeddings through the same Transport.
func Example_transportOpenAIResponses() {
	upstream := httptest.NewServer(providertest.NewHandler())
	defer upstream.Close() // stands in for api.openai.com
	eng, report := exampleEngine()
	defer report()

	client := openai.NewClient(
		option.WithBaseURL(upstream.URL+"/v1"),
		option.WithAPIKey("sk-your-key"),
		option.WithHTTPClient(&http.Client{Transport: eng.Transport()}), // the one change
	)
	ctx := core.WithCustomer(context.Background(), "acme")
	resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.OutputText())
	_, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("embed me")},
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// This is a mock response from tollgate.
	// usage event: openai responses gpt-4o-mini customer=acme input=8 (cached 0, cache writes 0) output=7 (reasoning 0) total=15
	// usage event: openai embeddings text-embedding-3-small customer=acme input=2 (cached 0, cache writes 0) output=0 (reasoning 0) total=2
}
