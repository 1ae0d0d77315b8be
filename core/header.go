package core

import (
	"net/http"
	"strings"
)

// credentialHeaders carry provider keys; they never reach stages. The
// value is the header's place in [attribution.credentials]: the order in
// which a gateway key is looked for.
var credentialHeaders = map[string]int{
	"Authorization":  1,
	"X-Api-Key":      2,
	"Api-Key":        3,
	"X-Goog-Api-Key": 4,
}

// dropHeaders are hop-by-hop or recomputed for the upstream request.
// Accept-Encoding is dropped so usage can be read from the answer: the
// call stage asks upstreams for identity and decodes an answer compressed
// anyway (plugins/builtin/encoding.go).
var dropHeaders = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Content-Length":      true,
	"Accept-Encoding":     true,
	"Host":                true,
}

// attribution is what the client's headers say about who is calling.
type attribution struct {
	customer string
	// customerTwice is a second, different value of the customer header:
	// which of the two to bill is the client's to say, not the gateway's.
	customerTwice string
	upstream      string
	metadata      map[string]string
	// credentials are the first values of the credential headers, in
	// credentialHeaders' order: an array, not a header map, so that
	// keeping them costs the call nothing.
	credentials [4]string
}

// splitHeader copies the client's header into one safe to forward and show to
// stages, and takes out credentials and tollgate's attribution headers.
func (e *Engine) splitHeader(in http.Header) (http.Header, attribution) {
	var a attribution
	out := make(http.Header, len(in))
	for k, v := range in {
		switch {
		case credentialHeaders[k] > 0:
			if len(v) > 0 {
				a.credentials[credentialHeaders[k]-1] = v[0]
			}
		case dropHeaders[k]:
		case k == e.customerHeader:
			if len(v) > 0 {
				a.customer = v[0]
			}
			for _, other := range v[1:] {
				if other != v[0] {
					a.customerTwice = other
					break
				}
			}
		case k == e.upstreamHeader:
			if len(v) > 0 {
				a.upstream = v[0]
			}
		case e.metaPrefix != "" && len(k) > len(e.metaPrefix) && strings.EqualFold(k[:len(e.metaPrefix)], e.metaPrefix):
			if len(v) > 0 {
				if a.metadata == nil {
					a.metadata = make(map[string]string, 2)
				}
				a.metadata[strings.ToLower(k[len(e.metaPrefix):])] = v[0]
			}
		default:
			out[k] = v
		}
	}
	return out, a
}

// copyResponseHeader copies upstream response headers for the client,
// leaving out hop-by-hop headers and the length (recomputed by the writer).
func copyResponseHeader(dst, src http.Header) {
	for k, v := range src {
		if dropHeaders[k] {
			continue
		}
		dst[k] = v
	}
}

// credentialQuery is the query parameter that carries a provider key
// (Gemini's ?key=); it never reaches stages, logs or usage events.
const credentialQuery = "key"

// stripCredentialQuery takes the key parameter out of a raw query, keeping
// the rest as sent, and returns it ("" when there was none).
func stripCredentialQuery(raw string) (rest, key string) {
	if !strings.Contains(raw, credentialQuery+"=") {
		return raw, ""
	}
	var b strings.Builder
	for part := range strings.SplitSeq(raw, "&") {
		if name, value, _ := strings.Cut(part, "="); name == credentialQuery {
			key = value
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String(), key
}
