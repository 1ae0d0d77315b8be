// Package openai is the OpenAI wire format: its endpoints, how model, stream
// flag and usage are read from its bodies, and its error shape.
package openai

import (
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Operation names.
const (
	OpChatCompletions = "chat.completions"
)

// Format is the OpenAI wire format. The zero value is ready to use and safe
// for concurrent use.
type Format struct{}

// New returns the OpenAI format.
func New() Format { return Format{} }

// Name is "openai".
func (Format) Name() string { return "openai" }

// Match recognizes the OpenAI endpoints tollgate meters.
func (Format) Match(method, path string) (string, bool) {
	if method == http.MethodPost && path == "/v1/chat/completions" {
		return OpChatCompletions, true
	}
	return "", false
}

// UpstreamPath strips the /v1 prefix: OpenAI base URLs end in /v1.
func (Format) UpstreamPath(req *core.Request) string {
	return strings.TrimPrefix(req.Path, "/v1")
}

// Authorize sets the bearer token.
func (Format) Authorize(h http.Header, apiKey string) {
	h["Authorization"] = []string{"Bearer " + apiKey}
}

var _ core.Format = Format{}
