package tollgate_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// Track the official OpenAI SDK with one option: the engine's Transport.
// The customer comes from the context; usage events go to the sinks the
// config names (here a JSON Lines file).
func Example_transport() {
	upstream := httptest.NewServer(providertest.NewHandler()) // stands in for api.openai.com
	defer upstream.Close()
	dir, _ := os.MkdirTemp("", "tollgate-example")
	defer os.RemoveAll(dir)
	cfgFile := filepath.Join(dir, "tollgate.yaml")
	os.WriteFile(cfgFile, []byte(`
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: `+filepath.Join(dir, "usage.jsonl")+`}]}}
`), 0o600)

	cfg, err := config.Load(config.Options{Path: cfgFile})
	if err != nil {
		panic(err)
	}
	eng, err := tollgate.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	defer eng.Close(context.Background()) // flushes usage events

	client := openai.NewClient(
		option.WithBaseURL(upstream.URL+"/v1"),
		option.WithAPIKey("sk-your-key"),
		option.WithHTTPClient(&http.Client{Transport: eng.Transport()}), // the one change
	)
	ctx := core.WithCustomer(context.Background(), "acme")
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content)
	fmt.Println("tokens:", resp.Usage.TotalTokens)
	// Output:
	// This is a mock response from tollgate.
	// tokens: 15
}
