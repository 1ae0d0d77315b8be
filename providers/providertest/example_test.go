package providertest_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// The fake answers the official SDK with a fixed reply and exact usage: the
// prompt costs 3 + (4 + 3 words) = 10 tokens, the reply 7.
func Example() {
	srv := httptest.NewServer(providertest.NewHandler())
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("sk-test"))
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hi please")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)
	fmt.Println(resp.Usage.PromptTokens, resp.Usage.CompletionTokens, resp.Usage.TotalTokens)
	// Output:
	// This is a mock response from tollgate.
	// 10 7 17
}

// A fault set in the X-Fake-Fault header reaches the fake through a gateway,
// which forwards unknown headers.
func ExampleParseFault() {
	f, err := providertest.ParseFault("status=429; retry_after=2")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Status, f.RetryAfter)
	fmt.Println(providertest.Fault{Latency: 200_000_000, CutAfter: 3})
	// Output:
	// 429 2s
	// latency=200ms; cut_after=3
}

// A queued fault fails the next request; the SDK, told not to retry, reports
// the 503 the fake sent.
func ExampleProvider_Inject() {
	p := providertest.NewHandler()
	srv := httptest.NewServer(p)
	defer srv.Close()

	p.Inject(providertest.Fault{Status: 503})
	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	fmt.Println(err)
	fmt.Println(len(p.Requests()), p.Requests()[0].Path)
	// Output:
	// OpenAI API error: 503 Service Unavailable
	// 1 /chat/completions
}
