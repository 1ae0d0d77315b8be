package openai_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

func TestAzureURL(t *testing.T) {
	deployments := map[string]string{"gpt-4o": "prod-4o"}
	tests := []struct {
		name, base, version, op, path, model, query, want string
	}{
		{"deployment by mapping", "https://r.openai.azure.com", "2024-10-21", openai.OpChatCompletions, "/v1/chat/completions", "gpt-4o", "",
			"https://r.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"},
		{"model is the deployment", "https://r.openai.azure.com/openai", "2024-10-21", openai.OpEmbeddings, "/v1/embeddings", "text-embedding-3-small", "",
			"https://r.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"},
		{"no deployment: responses", "https://r.openai.azure.com", "2025-04-01-preview", openai.OpResponses, "/v1/responses", "gpt-4o", "",
			"https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview"},
		{"client's api-version kept", "https://r.openai.azure.com", "2024-10-21", "files", "/v1/files", "", "api-version=2099-01-01",
			"https://r.openai.azure.com/openai/files?api-version=2099-01-01"},
		{"v1 API", "https://r.openai.azure.com", "", openai.OpChatCompletions, "/v1/chat/completions", "gpt-4o", "",
			"https://r.openai.azure.com/openai/v1/chat/completions"},
		{"v1 API, base already /openai/v1", "https://r.openai.azure.com/openai/v1", "", openai.OpResponses, "/v1/responses", "gpt-4o", "",
			"https://r.openai.azure.com/openai/v1/responses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := url.Parse(tt.base)
			a := &openai.Azure{APIVersion: tt.version, Deployments: deployments}
			req := &core.Request{Operation: tt.op, Path: tt.path, Model: tt.model, RawQuery: tt.query}
			if got := a.URL(req, base).String(); got != tt.want {
				t.Errorf("URL = %s, want %s", got, tt.want)
			}
		})
	}
	h := http.Header{}
	(&openai.Azure{}).Authorize(h, "k")
	if h.Get("Api-Key") != "k" || h.Get("Authorization") != "" {
		t.Errorf("header %v", h)
	}
}

func TestAzureClientPaths(t *testing.T) {
	f := openai.New()
	tests := []struct{ path, op, model, upstream string }{
		{"/openai/deployments/prod-4o/chat/completions", openai.OpChatCompletions, "prod-4o", "/chat/completions"},
		{"/openai/deployments/emb/embeddings", openai.OpEmbeddings, "emb", "/embeddings"},
		{"/openai/v1/responses", openai.OpResponses, "", "/responses"},
		{"/openai/files", "files", "", "/files"},
	}
	for _, tt := range tests {
		op, ok := f.Match(http.MethodPost, tt.path)
		if !ok || op != tt.op {
			t.Errorf("%s: %q %v, want %q", tt.path, op, ok, tt.op)
			continue
		}
		req := &core.Request{Method: http.MethodPost, Path: tt.path, Operation: op,
			Body: []byte(`{"messages":[{"role":"user","content":"hi"}],"input":"hi"}`)}
		f.Parse(req)
		if req.Model != tt.model || f.UpstreamPath(req) != tt.upstream {
			t.Errorf("%s: model %q upstream path %q", tt.path, req.Model, f.UpstreamPath(req))
		}
		if tt.model != "" && f.Validate(req) != nil {
			t.Errorf("%s: the deployment names the model, yet %v", tt.path, f.Validate(req))
		}
	}
	base, _ := url.Parse("https://r.openai.azure.com")
	req := &core.Request{Operation: openai.OpChatCompletions, Path: "/openai/deployments/d1/chat/completions", Model: "d1", RawQuery: "api-version=2024-06-01"}
	if got := (&openai.Azure{APIVersion: "2024-10-21"}).URL(req, base).String(); got != "https://r.openai.azure.com/openai/deployments/d1/chat/completions?api-version=2024-06-01" {
		t.Errorf("an Azure client's call to an Azure upstream: %s", got)
	}
}

// Google's OpenAI-compatible endpoint for Gemini (an OpenAI SDK with base
// URL .../v1beta/openai/) speaks OpenAI's wire format: its calls are
// OpenAI's operations, metered and checked as such, not Gemini's.
func TestGeminiOpenAICompatiblePaths(t *testing.T) {
	f := openai.New()
	tests := []struct{ method, path, op, upstream string }{
		{http.MethodPost, "/v1beta/openai/chat/completions", openai.OpChatCompletions, "/chat/completions"},
		{http.MethodPost, "/v1beta/openai/embeddings", openai.OpEmbeddings, "/embeddings"},
		{http.MethodGet, "/v1beta/openai/models", openai.OpModelsList, "/models"},
	}
	for _, tt := range tests {
		op, ok := f.Match(tt.method, tt.path)
		if !ok || op != tt.op {
			t.Errorf("%s %s: %q %v, want %q", tt.method, tt.path, op, ok, tt.op)
			continue
		}
		req := &core.Request{Method: tt.method, Path: tt.path, Operation: op}
		if got := f.UpstreamPath(req); got != tt.upstream {
			t.Errorf("%s: upstream path %q, want %q", tt.path, got, tt.upstream)
		}
	}
}
