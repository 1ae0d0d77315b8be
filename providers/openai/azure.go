package openai

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Azure is the [core.Dialect] of Azure OpenAI: clients speak plain OpenAI to
// tollgate (POST /v1/chat/completions with a model), or Azure's own paths
// (/openai/deployments/{deployment}/chat/completions), and tollgate calls
// Azure at its paths with its api-key header.
//
// With an APIVersion, calls go to the deployment API:
//
//	{base}/openai/deployments/{deployment}/chat/completions?api-version={APIVersion}
//
// where the deployment is Deployments[model], or the model itself; calls
// without a deployment (responses, files, batches, models) go to
// {base}/openai/{path}?api-version=…. Without an APIVersion, calls go to
// Azure's v1 API, {base}/openai/v1/{path}, which takes the model from the
// body as OpenAI does. A base URL that already ends in /openai or
// /openai/v1 is used as it is.
//
// Azure is safe for concurrent use once built.
type Azure struct {
	// APIVersion is the api-version query parameter, e.g. "2024-10-21";
	// empty selects the v1 API.
	APIVersion string
	// Deployments maps a model name to the deployment that serves it.
	Deployments map[string]string

	key core.Memo[[]string] // the api-key header value, built once
}

// deploymentOps are the operations Azure serves under a deployment.
var deploymentOps = map[string]string{
	OpChatCompletions: "/chat/completions",
	OpCompletions:     "/completions",
	OpEmbeddings:      "/embeddings",
}

// URL maps the call onto Azure's paths.
func (a *Azure) URL(req *core.Request, base *url.URL) *url.URL {
	t := *base
	t.RawPath = ""
	root := strings.TrimSuffix(base.Path, "/")
	rest := strings.TrimPrefix(canonicalPath(req.Path), "/v1")
	q := req.RawQuery
	if a.APIVersion == "" {
		switch {
		case strings.HasSuffix(root, "/openai/v1"):
		case strings.HasSuffix(root, "/openai"):
			root += "/v1"
		default:
			root += "/openai/v1"
		}
		t.Path = root + rest
	} else {
		if !strings.HasSuffix(root, "/openai") {
			root += "/openai"
		}
		if suffix, ok := deploymentOps[req.Operation]; ok && req.Model != "" {
			d := req.Model
			if dep, ok := a.Deployments[req.Model]; ok {
				d = dep
			}
			t.Path = root + "/deployments/" + url.PathEscape(d) + suffix
		} else {
			t.Path = root + rest
		}
		if !strings.Contains(q, "api-version=") {
			if q != "" {
				q += "&"
			}
			q += "api-version=" + url.QueryEscape(a.APIVersion)
		}
	}
	t.RawQuery = q
	return &t
}

// Authorize sets Azure's api-key header.
func (a *Azure) Authorize(h http.Header, apiKey string) {
	h["Api-Key"] = a.key.Get(apiKey, core.HeaderValue)
}

var _ core.Dialect = (*Azure)(nil)
