package tollgate_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// errorShape reads an error body in each provider's own shape.
type errorShape struct {
	Type  string `json:"type"` // Anthropic: "error"
	Error struct {
		Type    string `json:"type"`    // OpenAI, Anthropic
		Message string `json:"message"` // all
		Status  string `json:"status"`  // Gemini
		Code    any    `json:"code"`    // Gemini: the HTTP status
		Param   string `json:"param"`   // OpenAI
	} `json:"error"`
}

func TestHandlerBadInputInEachProvidersShape(t *testing.T) {
	const gemini = "/v1beta/models/gemini-2.5-flash:generateContent"
	tests := []struct {
		name, path, body string
		header           []string
		wantStatus       int
		wantType         string // error.type, or error.status for Gemini
		wantInMessage    string
	}{
		{"anthropic: not JSON", "/v1/messages", `{"model":`, nil, 400, "invalid_request_error", "not valid JSON"},
		{"anthropic: no max_tokens", "/v1/messages", `{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_request_error", "max_tokens: Field required"},
		{"anthropic: messages not an array", "/v1/messages", `{"model":"claude-x","max_tokens":5,"messages":"hi"}`, nil, 400, "invalid_request_error", "messages"},
		{"anthropic: unknown upstream", "/v1/messages", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			[]string{"X-Tollgate-Upstream", "nope"}, 404, "not_found_error", "configured upstreams: anthropic (anthropic), gemini (gemini), openai (openai)"},
		{"gemini: no contents", gemini, `{"generationConfig":{}}`, nil, 400, "INVALID_ARGUMENT", "contents is not specified"},
		{"gemini: not JSON", gemini, `{"contents":[`, nil, 400, "INVALID_ARGUMENT", "Invalid JSON payload"},
		// an upstream resolving the dots would answer a generate call the gateway passed through unmetered
		{"gemini: a dot segment", "/v1beta/files/../models/gemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, nil,
			400, "INVALID_ARGUMENT", `the path /v1beta/files/../models/gemini-2.5-flash:generateContent has a ".." segment`},
		{"gemini: an encoded dot segment", "/v1beta/files/%2e%2e%2Fmodels%2Fgemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, nil,
			400, "INVALID_ARGUMENT", `has a ".." segment`},
		{"openai: a dot segment", "/v1/files/../chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil,
			400, "invalid_request_error", `has a ".." segment`},
		// an upstream merging slashes (nginx) would answer a chat call the gateway passed through unmetered
		{"openai: a double slash", "/v1//chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil,
			400, "invalid_request_error", "the path /v1//chat/completions has an empty segment (a // or a trailing /)"},
		{"openai: a trailing slash", "/v1/chat/completions/", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil,
			400, "invalid_request_error", "has an empty segment"},
		{"anthropic: an escaped trailing slash", "/v1/messages%2F", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			[]string{"anthropic-version", "2023-06-01"}, 400, "invalid_request_error", "has an empty segment"},
		{"openai embeddings: no input", "/v1/embeddings", `{"model":"text-embedding-3-small"}`, nil, 400, "invalid_request_error", "input"},
		{"openai responses: stream not a boolean", "/v1/responses", `{"model":"gpt-4o","input":"hi","stream":"yes"}`, nil, 400, "invalid_request_error", "stream"},
		{"openai responses: upstream of another format", "/v1/responses", `{"model":"gpt-4o","input":"hi"}`,
			[]string{"X-Tollgate-Upstream", "gemini"}, 400, "invalid_request_error", "openai upstreams: openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, "")
			url := serveGateway(t, g)
			resp := post(t, url+tt.path, tt.body, tt.header...)
			body := readAll(t, resp.Body)
			var e errorShape
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			typ := e.Error.Type
			if strings.HasPrefix(tt.path, "/v1beta") {
				typ = e.Error.Status
				if code, _ := e.Error.Code.(float64); int(code) != tt.wantStatus {
					t.Errorf("gemini error code %v, want %d", e.Error.Code, tt.wantStatus)
				}
			}
			if strings.HasPrefix(tt.path, "/v1/messages") && e.Type != "error" {
				t.Errorf("anthropic errors have type error: %s", body)
			}
			if resp.StatusCode != tt.wantStatus || typ != tt.wantType || !strings.Contains(e.Error.Message, tt.wantInMessage) {
				t.Errorf("got %d %s, want %d %s containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantType, tt.wantInMessage)
			}
			if n := len(g.upstream.Requests()); n != 0 {
				t.Errorf("bad input reached upstream %d times", n)
			}
			if ev := g.onlyEvent(t); ev.Status != core.StatusInvalid || ev.HTTPStatus != tt.wantStatus {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

func TestHandlerStreamCutMidwayPerProvider(t *testing.T) {
	tests := []struct {
		name, path, body, cut string
		wantInput, wantOutput int64
	}{
		// Anthropic and Gemini report the prompt's count before the cut
		// (message_start; usageMetadata in every chunk): the fake's rule
		// gives "one two three" 3 + 4 + 3 = 10 tokens.
		{"anthropic", "/v1/messages", `{"model":"claude-x","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"one two three"}]}`, "cut_after=5", 10, 2},
		{"gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"one two three"}]}]}`, "cut_after=3", 10, 3},
		// OpenAI reports it only at the end: the gateway's estimate, 13
		// bytes of text is 4 tokens, its message 4 more, the reply 3.
		{"openai responses", "/v1/responses", `{"model":"gpt-4o","stream":true,"input":"one two three"}`, "cut_after=6", 11, 2},
		{"openai chat", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"one two three"}]}`, "cut_after=4", 11, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, "")
			url := serveGateway(t, g)
			resp := post(t, url+tt.path, tt.body, providertest.FaultHeader, tt.cut)
			_, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Error("the client must see the stream cut, not a clean end")
			}
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusUpstreamError || !ev.UsageEstimated || ev.InputTokens != tt.wantInput || ev.OutputTokens != tt.wantOutput || !ev.Stream {
				t.Errorf("event %+v, want an upstream error with %d input and %d estimated output tokens", ev, tt.wantInput, tt.wantOutput)
			}
		})
	}
}

func TestAzureClientPaths(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello azure"}]}`
	t.Run("host", func(t *testing.T) {
		g := newGateway(t, "")
		url := serveGateway(t, g)
		resp := post(t, url+"/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", body)
		got := readAll(t, resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(got), providertest.DefaultReply) {
			t.Fatalf("%d %s", resp.StatusCode, got)
		}
		up := g.upstream.Requests()[0]
		if up.Path != "/v1/chat/completions" {
			t.Errorf("an OpenAI upstream got %s", up.Path)
		}
		want, _ := g.upstream.ExpectedUsageOf(up)
		ev := g.onlyEvent(t)
		wantUsage(t, ev, want)
		if ev.Operation != "chat.completions" || ev.Model != "gpt-4o-mini" {
			t.Errorf("event %+v", ev)
		}
	})
	t.Run("transport", func(t *testing.T) {
		g := newGateway(t, "")
		c := &http.Client{Transport: g.eng.Transport()}
		req, _ := http.NewRequest(http.MethodPost, g.upstream.URL+"/openai/deployments/mini-prod/chat/completions?api-version=2024-10-21",
			strings.NewReader(`{"messages":[{"role":"user","content":"hello azure"}]}`))
		req.Header.Set("Api-Key", "azure-client-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req.WithContext(core.WithCustomer(req.Context(), "acme")))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		up := g.upstream.Requests()[0]
		if up.Path != "/openai/deployments/mini-prod/chat/completions" || up.RawQuery != "api-version=2024-10-21" ||
			up.Header.Get("Api-Key") != "azure-client-key" {
			t.Errorf("upstream got %s ?%s %v", up.Path, up.RawQuery, up.Header)
		}
		ev := g.onlyEvent(t)
		if ev.Operation != "chat.completions" || ev.Model != "mini-prod" || ev.CustomerID != "acme" || ev.Status != core.StatusOK || ev.InputTokens == 0 {
			t.Errorf("event %+v: the deployment names the model", ev)
		}
	})
}

// A standard method in another case is refused before routing: "post"
// matches no metered route, and an upstream that took it for POST would
// answer a chat call the gateway passed through unmetered.
func TestHandlerRefusesAStandardMethodInAnotherCase(t *testing.T) {
	g := newGateway(t, "")
	url := serveGateway(t, g)
	req, _ := http.NewRequest("post", url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	var e errorShape
	json.Unmarshal(body, &e)
	if want := `the method "post" is POST in another case; HTTP methods are case-sensitive: send POST`; resp.StatusCode != 400 || e.Error.Message != want {
		t.Errorf("got %d %s, want 400 %q", resp.StatusCode, body, want)
	}
	if n := len(g.upstream.Requests()); n != 0 {
		t.Errorf("the call reached the upstream %d times", n)
	}
	if ev := g.onlyEvent(t); ev.Status != core.StatusInvalid {
		t.Errorf("event %+v", ev)
	}
}
