// Package openai is the OpenAI wire format: its endpoints, how model, stream
// flag and usage are read from its bodies, and its error shape.
package openai

import (
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Operation names. Other paths under /v1/ are passed through as an
// operation named for their first segment ("files", "batches").
const (
	OpChatCompletions = "chat.completions"
	OpCompletions     = "completions"
	OpEmbeddings      = "embeddings"
	OpResponses       = "responses"
	OpModelsList      = "models.list"
	OpModelsGet       = "models.retrieve"
)

// Format is the OpenAI wire format. The zero value is ready to use and safe
// for concurrent use.
type Format struct{}

// New returns the OpenAI format.
func New() Format { return Format{} }

// Name is "openai".
func (Format) Name() string { return "openai" }

// Match recognizes the OpenAI endpoints tollgate meters, GET /v1/models,
// and any other /v1/ path as a passed-through operation; an Azure client's
// paths and those of Gemini's OpenAI-compatible endpoint are OpenAI's too.
func (Format) Match(method, path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		rest, ok = strings.CutPrefix(canonicalPath(path), "/v1/")
	}
	if !ok || rest == "" {
		return "", false
	}
	if method == http.MethodPost {
		switch rest {
		case "chat/completions":
			return OpChatCompletions, true
		case "completions":
			return OpCompletions, true
		case "embeddings":
			return OpEmbeddings, true
		case "responses":
			return OpResponses, true
		}
	}
	switch {
	case rest == "models":
		return OpModelsList, true
	case strings.HasPrefix(rest, "models/"):
		return OpModelsGet, true
	}
	seg, _, _ := strings.Cut(rest, "/")
	switch seg {
	case "chat", "completions", "embeddings", "responses":
		return seg + "." + strings.ToLower(method), true // GET /v1/responses/{id}: "responses.get"
	}
	return seg, true
}

// metered reports whether op's answers carry token usage.
func metered(op string) bool {
	switch op {
	case OpChatCompletions, OpCompletions, OpEmbeddings, OpResponses:
		return true
	}
	return false
}

// UpstreamPath strips the /v1 prefix: OpenAI base URLs end in /v1. An Azure
// client's path is first mapped onto OpenAI's.
func (Format) UpstreamPath(req *core.Request) string {
	return strings.TrimPrefix(canonicalPath(req.Path), "/v1")
}

// canonicalPath is path as OpenAI serves it: an Azure client's path, or
// one under Gemini's OpenAI-compatible endpoint, mapped onto OpenAI's.
func canonicalPath(path string) string {
	if p, _, ok := azureClientPath(path); ok {
		return p
	}
	if rest, ok := strings.CutPrefix(path, GeminiCompatiblePrefix); ok {
		return "/v1/" + rest
	}
	return path
}

// GeminiCompatiblePrefix is where Google serves Gemini in OpenAI's wire
// format (an OpenAI SDK whose base URL is
// https://generativelanguage.googleapis.com/v1beta/openai/): its paths are
// OpenAI's under this prefix, /v1beta/openai/chat/completions.
const GeminiCompatiblePrefix = "/v1beta/openai/"

// azureClientPath maps a path an Azure OpenAI client sends onto OpenAI's:
// /openai/deployments/{deployment}/chat/completions and
// /openai/v1/chat/completions become /v1/chat/completions, /openai/files
// becomes /v1/files. deployment is the deployment named in the path, if any.
func azureClientPath(path string) (canonical, deployment string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/openai/")
	if !ok {
		return path, "", false
	}
	if d, ok := strings.CutPrefix(rest, "deployments/"); ok {
		deployment, rest, _ = strings.Cut(d, "/")
	} else if r, ok := strings.CutPrefix(rest, "v1/"); ok {
		rest = r
	}
	return "/v1/" + rest, deployment, true
}

// useDeployment names the model of an Azure client's call that names it only
// by its deployment in the path.
func useDeployment(req *core.Request) {
	if req.Model != "" {
		return
	}
	if _, d, _ := azureClientPath(req.Path); d != "" {
		req.Model = d
		switch st := req.State().(type) {
		case *parsed:
			st.hasModel = true
		case *otherParsed:
			st.hasModel = true
		}
	}
}

// Authorize sets the bearer token.
func (Format) Authorize(h http.Header, apiKey string) {
	h["Authorization"] = bearer.Get(apiKey, bearerValue)
}

// bearer keeps the last key's header value: built once, not per call.
var bearer core.Memo[[]string]

func bearerValue(apiKey string) []string { return core.HeaderValue("Bearer " + apiKey) }

var _ core.Format = Format{}
