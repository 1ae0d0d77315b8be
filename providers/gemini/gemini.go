// Package gemini is the Gemini API wire format (generativelanguage): its
// endpoints, how model, stream flag and usage are read from its paths,
// bodies and streams, and its error shape.
//
// Gemini names the model and the method in the path,
// /v1beta/models/{model}:generateContent, and streams with
// :streamGenerateContent?alt=sse. Usage comes from usageMetadata:
//
//	InputTokens       = promptTokenCount + toolUsePromptTokenCount
//	CachedInputTokens = cachedContentTokenCount (a part of promptTokenCount)
//	OutputTokens      = candidatesTokenCount + thoughtsTokenCount
//	ReasoningTokens   = thoughtsTokenCount
//
// so that input + output is Gemini's totalTokenCount.
package gemini

import (
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Operation names: Gemini's own method names.
const (
	OpGenerateContent       = "generateContent"
	OpStreamGenerateContent = "streamGenerateContent"
	OpCountTokens           = "countTokens"
	OpEmbedContent          = "embedContent"
	OpBatchEmbedContents    = "batchEmbedContents"
)

// Format is the Gemini wire format. The zero value is ready to use and safe
// for concurrent use.
type Format struct{}

// New returns the Gemini format.
func New() Format { return Format{} }

// Name is "gemini".
func (Format) Name() string { return "gemini" }

// versions are the API versions in Gemini paths.
var versions = []string{"/v1beta/", "/v1alpha/", "/v1/", "/upload/v1beta/"}

// Match recognizes /v1beta/models/{model}:{method} (and v1, v1alpha, tuned
// models), and, as passed-through operations, any other /v1beta/ or
// /v1alpha/ path but /v1beta/openai/, Google's OpenAI-compatible endpoint,
// whose calls are OpenAI's. Plain /v1/ paths other than model methods are
// OpenAI's unless the client sends x-goog-api-key ([Format.MatchHeader]).
func (Format) Match(method, path string) (string, bool) {
	rest, version := cutVersion(path)
	if version == "" || version == "/v1beta/" && strings.HasPrefix(rest, "openai/") {
		return "", false // no Gemini call, or Gemini in OpenAI's format (openai.GeminiCompatiblePrefix)
	}
	if _, m, ok := modelMethod(rest); ok {
		return m, true
	}
	if version == "/v1/" {
		return "", false
	}
	return passthroughOp(rest), true
}

// MatchHeader also claims any /v1/ path of a client that sends
// x-goog-api-key, as the Google SDKs do.
func (f Format) MatchHeader(method, path string, h http.Header) (string, bool) {
	if op, ok := f.Match(method, path); ok {
		return op, ok
	}
	if rest, ok := strings.CutPrefix(path, "/v1/"); ok && len(h["X-Goog-Api-Key"]) > 0 {
		return passthroughOp(rest), true
	}
	return "", false
}

func cutVersion(path string) (rest, version string) {
	for _, v := range versions {
		if r, ok := strings.CutPrefix(path, v); ok {
			return r, v
		}
	}
	return "", ""
}

// modelMethod splits models/{model}:{method} or tunedModels/{model}:{method}.
func modelMethod(rest string) (model, method string, ok bool) {
	var name string
	switch {
	case strings.HasPrefix(rest, "models/"):
		name = rest[len("models/"):]
	case strings.HasPrefix(rest, "tunedModels/"):
		name = rest[len("tunedModels/"):]
	default:
		return "", "", false
	}
	i := strings.LastIndexByte(name, ':')
	if i <= 0 || strings.IndexByte(name[:i], '/') >= 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// passthroughOp names an operation tollgate passes through: "models.list",
// "models.get", else the first path segment ("files", "cachedContents").
func passthroughOp(rest string) string {
	switch {
	case rest == "models":
		return "models.list"
	case strings.HasPrefix(rest, "models/"):
		return "models.get"
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

// UpstreamPath keeps the path, version included: Gemini base URLs have none.
func (Format) UpstreamPath(req *core.Request) string { return req.Path }

// Authorize sets x-goog-api-key.
func (Format) Authorize(h http.Header, apiKey string) {
	h["X-Goog-Api-Key"] = key.Get(apiKey, core.HeaderValue)
}

// key keeps the last key's header value: built once, not per call.
var key core.Memo[[]string]

var (
	_ core.Format        = Format{}
	_ core.HeaderMatcher = Format{}
)
