package core

import (
	"log/slog"
	"net/http"
	"net/url"
)

// Upstream is a provider endpoint the call stage sends requests to: a base
// URL and the gateway's key for it. The key is never logged or shown to
// stages through the request's headers.
type Upstream struct {
	// Name is the configured name, e.g. "openai" or "azure-eu".
	Name string
	// Format is the wire format's name.
	Format string
	// BaseURL is the root requests are sent under, e.g. https://api.openai.com/v1.
	BaseURL *url.URL
	// KeyEnv names the environment variable the key comes from, for errors.
	KeyEnv string
	// Models lists the model patterns (path.Match syntax, e.g. "llama-*")
	// whose calls go to this upstream; see [WithUpstream]. Set it before the
	// upstream is added to an engine.
	Models []string
	// Dialect, if set, adapts calls to an upstream that speaks its format
	// with differences (Azure OpenAI's paths, api-version and api-key).
	Dialect Dialect

	apiKey string
	// direct upstreams (library transport mode) keep the client's URL path and
	// its own credentials.
	direct      bool
	credentials http.Header
	queryKey    string // the client's ?key=, for a direct upstream
	path        Memo[string]
}

// Dialect adapts a wire format's calls to an upstream that serves them at
// other paths or with other credentials, such as Azure OpenAI. A Dialect
// must be safe for concurrent use.
type Dialect interface {
	// URL returns the upstream URL for req under the upstream's base URL.
	URL(req *Request, base *url.URL) *url.URL
	// Authorize sets the credentials on an upstream request header.
	Authorize(h http.Header, apiKey string)
}

// NewUpstream returns an upstream with the gateway's key for it.
func NewUpstream(name, format string, baseURL *url.URL, apiKey, keyEnv string) *Upstream {
	return &Upstream{Name: name, Format: format, BaseURL: baseURL, apiKey: apiKey, KeyEnv: keyEnv}
}

// HasKey reports whether the gateway has a key for this upstream, or the
// upstream needs none.
func (u *Upstream) HasKey() bool { return u.apiKey != "" || u.direct || u.KeyEnv == "" }

// URL returns the upstream URL for req.
func (u *Upstream) URL(req *Request) *url.URL {
	t := new(url.URL)
	u.SetURL(t, req)
	return t
}

// SetURL sets t to the upstream URL for req, for a caller that keeps the URL
// in a struct of its own (the call stage: one allocation per call).
func (u *Upstream) SetURL(t *url.URL, req *Request) {
	if u.Dialect != nil && !u.direct {
		*t = *u.Dialect.URL(req, u.BaseURL)
		return
	}
	*t = *u.BaseURL
	if u.direct {
		t.Path = req.Path
	} else {
		t.Path = u.path.Get(req.Format.UpstreamPath(req), u.joinPath)
	}
	t.RawPath = ""
	t.RawQuery = req.RawQuery
	if u.queryKey != "" {
		if t.RawQuery != "" {
			t.RawQuery += "&"
		}
		t.RawQuery += credentialQuery + "=" + u.queryKey
	}
}

func (u *Upstream) joinPath(p string) string { return u.BaseURL.Path + p }

// Authorize sets the credentials on an outgoing request header. It fails with
// a configuration error naming the environment variable when the gateway has
// no key for the upstream.
func (u *Upstream) Authorize(f Format, h http.Header) error {
	if u.direct {
		for k, v := range u.credentials {
			h[k] = v
		}
		return nil
	}
	if u.apiKey == "" {
		if u.KeyEnv == "" {
			return nil // an upstream that needs no key, such as a local server
		}
		return Errorf(KindConfig, "missing_api_key",
			"tollgate has no API key for upstream %q: set the environment variable %s (or try the gateway with `tollgate mock`)", u.Name, u.KeyEnv)
	}
	if u.Dialect != nil {
		u.Dialect.Authorize(h, u.apiKey)
		return nil
	}
	f.Authorize(h, u.apiKey)
	return nil
}

// LogValue keeps the key out of logs.
func (u *Upstream) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", u.Name), slog.String("base_url", u.BaseURL.String()))
}
