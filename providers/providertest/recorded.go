package providertest

import "net/http"

// RecordedRequest is one request as the provider received it.
type RecordedRequest struct {
	// Method is the HTTP method, such as "POST".
	Method string
	// Path is the URL path as sent, with its /v1 prefix if it had one.
	Path string
	// RawQuery is the URL query, without the "?".
	RawQuery string
	// Header is a copy of the request headers, Authorization included.
	Header http.Header
	// Body is the whole request body.
	Body []byte
	// Cancelled reports that the provider noticed the request's context was
	// cancelled (the client went away) while it waited or streamed.
	Cancelled bool
}

// clone returns a copy that shares nothing with r.
func (r *RecordedRequest) clone() RecordedRequest {
	c := *r
	c.Header = r.Header.Clone()
	c.Body = append([]byte(nil), r.Body...)
	return c
}
