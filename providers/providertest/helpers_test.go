package providertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// testKey is the API key the tests send.
const testKey = "sk-test-0123456789"

// newClient returns an official SDK client for srv that does not retry.
func newClient(t *testing.T, baseURL string, opts ...option.RequestOption) openai.Client {
	t.Helper()
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(baseURL),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
	}, opts...)...)
}

// chatParams is a request whose prompt costs 17 tokens: 3, plus 4 + 3 words
// for each of its two messages.
func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Say hi please"),
		},
	}
}

// chatBody is a raw chat completion body; its prompt costs 10 tokens.
const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi please"}]}`

// post sends body to srv's path with headers given as key, value pairs and
// returns the response with its body read.
func post(t *testing.T, srv *Server, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return res, b
}

// errorBody is OpenAI's error shape, with param and code kept raw so that a
// test can tell null from absent.
type errorBody struct {
	Error struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return e
}

// waitCancelled waits for srv to notice a cancelled request.
func waitCancelled(t *testing.T, srv *Server) {
	t.Helper()
	select {
	case <-srv.Cancelled():
	case <-time.After(5 * time.Second):
		t.Fatal("the provider never noticed the cancelled request")
	}
}
