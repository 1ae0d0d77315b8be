package providertest

import (
	"fmt"
	"net/http"
	"net/url"
)

// ExpectedUsageOf returns the usage tollgate should record for a request the
// provider received, in tollgate's normalized terms, whatever its wire
// format: PromptTokens counts every input token (Anthropic's cache reads and
// writes included), CompletionTokens every output token (Gemini's thoughts
// included). It fails for a request whose operation reports no usage.
func (p *Provider) ExpectedUsageOf(r RecordedRequest) (Usage, error) {
	hr := &http.Request{Method: r.Method, Header: r.Header, URL: &url.URL{Path: r.Path}}
	switch w := p.wireFor(hr).(type) {
	case anthropicWire:
		req, err := parseAnthropic(r.Body)
		if err != nil {
			return Usage{}, err
		}
		return w.usage(req).normalized(), nil
	case geminiWire:
		req, err := parseGemini(r.Body)
		if err != nil {
			return Usage{}, err
		}
		return p.usage(req), nil
	}
	switch stripV1(stripAzure(r.Path)) {
	case "/chat/completions":
		return p.ExpectedUsage(r.Body)
	case "/embeddings":
		n, err := embeddingTokens(r.Body)
		return Usage{PromptTokens: n, TotalTokens: n}, err
	case "/responses":
		req, err := parseResponses(r.Body)
		if err != nil {
			return Usage{}, err
		}
		return p.usage(req), nil
	}
	return Usage{}, fmt.Errorf("providertest: %s %s reports no usage", r.Method, r.Path)
}
