// Package anthropic is the Anthropic Messages wire format: its endpoints,
// how model, stream flag and usage are read from its bodies and streams, and
// its error shape.
//
// Anthropic reports input tokens apart from cache reads and cache writes;
// tollgate's normalized usage counts all three as input, so that
// input_tokens means the same for every provider:
//
//	InputTokens       = input_tokens + cache_read_input_tokens + cache_creation_input_tokens
//	CachedInputTokens = cache_read_input_tokens
//	CacheWriteTokens  = cache_creation_input_tokens
//	OutputTokens      = output_tokens
package anthropic

import (
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Operation names.
const (
	OpMessages    = "messages"
	OpCountTokens = "messages.count_tokens"
	OpBatches     = "messages.batches"
	OpComplete    = "complete"
	OpModelsList  = "models.list"
	OpModelsGet   = "models.retrieve"
)

// Version is the anthropic-version header tollgate sends when the client
// sent none (curl); an SDK always sends its own.
const Version = "2023-06-01"

// Format is the Anthropic wire format. The zero value is ready to use and
// safe for concurrent use.
type Format struct{}

// New returns the Anthropic format.
func New() Format { return Format{} }

// Name is "anthropic".
func (Format) Name() string { return "anthropic" }

// Match recognizes the paths only Anthropic serves: /v1/messages and its
// sub-paths, and /v1/complete.
func (Format) Match(method, path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return "", false
	}
	switch {
	case rest == "messages":
		return OpMessages, method == http.MethodPost
	case rest == "messages/count_tokens":
		return OpCountTokens, method == http.MethodPost
	case rest == "messages/batches" || strings.HasPrefix(rest, "messages/batches/"):
		return OpBatches, true
	case rest == "complete":
		return OpComplete, method == http.MethodPost
	}
	return "", false
}

// MatchHeader also claims any other /v1/ path (models, files, …) of a
// client that sends anthropic-version, as every Anthropic SDK does: OpenAI
// serves the same paths.
func (f Format) MatchHeader(method, path string, h http.Header) (string, bool) {
	if op, ok := f.Match(method, path); ok {
		return op, ok
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok || rest == "" || len(h["Anthropic-Version"]) == 0 {
		return "", false
	}
	switch {
	case rest == "models":
		return OpModelsList, true
	case strings.HasPrefix(rest, "models/"):
		return OpModelsGet, true
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg, true
}

// UpstreamPath keeps the path: Anthropic base URLs have no version.
func (Format) UpstreamPath(req *core.Request) string { return req.Path }

// Authorize sets x-api-key, and anthropic-version when the client sent none.
func (Format) Authorize(h http.Header, apiKey string) {
	h["X-Api-Key"] = key.Get(apiKey, core.HeaderValue)
	if len(h["Anthropic-Version"]) == 0 {
		h["Anthropic-Version"] = versionValue
	}
}

// key keeps the last key's header value: built once, not per call.
var (
	key          core.Memo[[]string]
	versionValue = core.HeaderValue(Version)
)

var (
	_ core.Format        = Format{}
	_ core.HeaderMatcher = Format{}
)
