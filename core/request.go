package core

import (
	"context"
	"net/http"
	"time"
)

// Request is one LLM API call as it travels through the pipeline.
//
// The raw body the client sent is the truth: it is forwarded byte for byte
// unless a stage replaces it with [Request.SetBody]. The parsed fields beside
// it (Model, Stream) are a read-only view that the wire format fills in once.
//
// A Request belongs to one call and is used by one goroutine at a time; stages
// may modify it before calling next.
type Request struct {
	// ID is unique per call and is the usage event's idempotency key.
	ID string
	// Format is the wire format that parsed this request.
	Format Format
	// Operation names the API operation, e.g. "chat.completions".
	Operation string
	// Upstream is where the call goes. Stages such as fallback may change it.
	Upstream *Upstream
	// Method, Path and RawQuery are as the client sent them, with a route
	// prefix naming the upstream (/azure-eu/v1/...) taken off the path and
	// a key in the query string (?key=) taken out.
	Method   string
	Path     string
	RawQuery string
	// Header holds the client's headers minus credentials, hop-by-hop headers
	// and tollgate's own attribution headers.
	Header http.Header
	// Body is the raw request body.
	Body []byte

	// Model and Stream are parsed from the body by the wire format.
	Model  string
	Stream bool
	// ParseErr is set when the body is not what the operation expects; the
	// validate stage turns it into a 400.
	ParseErr error

	// Customer is who the call is attributed to ("" when unattributed).
	Customer string
	// Metadata holds caller-supplied tags copied into the usage event.
	Metadata map[string]string
	// Principal is the virtual key the call was made with, when the engine
	// checks keys ([WithAuthenticator]); nil otherwise.
	Principal *Principal

	// Received is when the call entered the engine.
	Received time.Time

	// Retries counts extra upstream attempts; the retry stage increments it.
	Retries int
	// CacheHit is set by a cache stage that answered the call.
	CacheHit bool

	bodyChanged bool
	// state is private per-format state (e.g. "the gateway asked for usage on
	// this stream, hide it from the client").
	state any

	// metered is the stream the call's upstream answered with, metered
	// where the call stage made it ([MeterStream]); nil when there is none.
	metered *upstreamStream

	// outcome and answerHeader live in the request so that finishing a call
	// and writing its answer's headers allocate nothing of their own.
	outcome      Outcome
	answerHeader [2]string
}

// setOutcome stores o in the request and returns it: a call finishes once.
func (r *Request) setOutcome(o Outcome) *Outcome {
	r.outcome = o
	return &r.outcome
}

// SetBody replaces the body that will be sent upstream.
func (r *Request) SetBody(b []byte) {
	r.Body = b
	r.bodyChanged = true
}

// BodyChanged reports whether a stage replaced the client's body.
func (r *Request) BodyChanged() bool { return r.bodyChanged }

// State returns the wire format's private per-request state.
func (r *Request) State() any { return r.state }

// SetState stores the wire format's private per-request state.
func (r *Request) SetState(s any) { r.state = s }

type ctxKey int

const (
	customerKey ctxKey = iota
	metadataKey
)

// WithCustomer returns a context that attributes calls made with it to the
// customer id. Library users tag calls this way; the host reads a header.
func WithCustomer(ctx context.Context, customer string) context.Context {
	return context.WithValue(ctx, customerKey, customer)
}

// CustomerFrom returns the customer set by [WithCustomer].
func CustomerFrom(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(customerKey).(string)
	return c, ok
}

// WithMetadata returns a context whose calls carry the key/value tag in their
// usage events, in addition to any tags already on ctx.
func WithMetadata(ctx context.Context, key, value string) context.Context {
	old, _ := ctx.Value(metadataKey).(map[string]string)
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = value
	return context.WithValue(ctx, metadataKey, m)
}

// MetadataFrom returns the tags set by [WithMetadata]. The map must not be
// modified.
func MetadataFrom(ctx context.Context) map[string]string {
	m, _ := ctx.Value(metadataKey).(map[string]string)
	return m
}
