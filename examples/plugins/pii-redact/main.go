// Command pii-redact is an example request stage: it rewrites the text of
// chat messages so that e-mail addresses, phone numbers and card numbers
// never reach the provider, and tags the call with how many it redacted.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pii-redact.wasm .
package main

import (
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

type config struct {
	// Deny refuses a call with PII instead of redacting it.
	Deny bool `json:"deny"`
}

var patterns = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`), "[EMAIL]"},
	{regexp.MustCompile(`\b(?:\d[ -]?){13,16}\b`), "[CARD]"},
	{regexp.MustCompile(`\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b`), "[PHONE]"},
}

// redact replaces PII in s and counts the replacements.
func redact(s string, n *int) string {
	for _, p := range patterns {
		s = p.re.ReplaceAllStringFunc(s, func(string) string { *n++; return p.with })
	}
	return s
}

var cfg config

func init() {
	sdk.OnRequest(func(r *sdk.Request) sdk.Action {
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.Body(), &body); err != nil {
			return sdk.Continue()
		}
		var msgs []map[string]any
		if err := json.Unmarshal(body["messages"], &msgs); err != nil {
			return sdk.Continue()
		}
		n := 0
		for _, m := range msgs {
			switch c := m["content"].(type) {
			case string:
				m["content"] = redact(c, &n)
			case []any: // content parts: redact the text ones
				for _, part := range c {
					if p, ok := part.(map[string]any); ok {
						if t, ok := p["text"].(string); ok {
							p["text"] = redact(t, &n)
						}
					}
				}
			}
		}
		if n == 0 {
			return sdk.Continue()
		}
		sdk.DecodeConfig(&cfg)
		if cfg.Deny {
			return sdk.Deny(400, "pii_detected", "the prompt contains personal data (e-mail, phone or card number); remove it and retry")
		}
		body["messages"], _ = json.Marshal(msgs)
		nb, _ := json.Marshal(body)
		r.SetBody(nb)
		r.SetMetadata("pii_redacted", strconv.Itoa(n))
		sdk.Logf(sdk.LevelInfo, "redacted %d PII matches", n)
		return sdk.Continue()
	})
}

func main() { sdk.Serve() }
