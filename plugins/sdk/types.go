package sdk

import (
	"encoding/json"
	"time"
)

// CallInfo describes a call: the request hook's document has these fields,
// and a response or stream event names the call it belongs to with them.
type CallInfo struct {
	ID        string `json:"id"`
	Provider  string `json:"provider"`
	Operation string `json:"operation"`
	Upstream  string `json:"upstream"`
	Model     string `json:"model"`
	Stream    bool   `json:"stream"`
	Customer  string `json:"customer"`

	metadata stringObject
}

// Meta returns the value of the call's tag key, "" if it has none. Tags
// come from X-Tollgate-Meta-* headers, the library, and earlier stages.
func (c *CallInfo) Meta(key string) string {
	v, _ := c.metadata.get(key)
	return v
}

// Metadata returns every tag of the call, in a map built by each call (a
// hook that needs one tag should call Meta, which builds nothing).
func (c *CallInfo) Metadata() map[string]string { return c.metadata.all() }

// Request is the request hook's document: one LLM API call before it goes
// upstream. Change it with its Set methods and answer [Continue].
//
// The SDK decodes it without reflection, reads the body, headers and tags
// only when the hook asks for them, and reuses the Request for the next
// call: use it during the hook call that received it, and do not keep the
// pointer. What you read from it (strings, maps, the body) is yours to
// keep.
type Request struct {
	CallInfo

	body    lazyBody
	headers headers
	changes Action
}

// Body returns the raw JSON body the client sent (or an earlier stage
// rewrote), or the body set with SetBody; nil if the body is not JSON
// (BodyText then holds it). It is copied out of the document on the first
// call: a hook that does not read the body does not pay for it.
func (r *Request) Body() json.RawMessage { return r.body.get() }

// BodyText returns the body when it is not JSON, "" otherwise.
func (r *Request) BodyText() string { return r.body.getText() }

// Header returns the first value of a request header (the name is matched
// without regard to case), "" if there is none.
func (r *Request) Header(name string) string { return r.headers.get(name) }

// Headers returns every request header, in a map built by each call (a
// hook that needs one header should call Header, which builds nothing).
// Changing the map changes nothing upstream; SetHeader does.
func (r *Request) Headers() map[string][]string { return r.headers.all() }

// Meta returns the value of the call's tag key, "" if it has none,
// including tags set with SetMetadata.
func (r *Request) Meta(key string) string {
	if v, ok := r.changes.Metadata[key]; ok {
		return v
	}
	return r.CallInfo.Meta(key)
}

// Metadata returns every tag of the call, including those set with
// SetMetadata, in a map built by each call. Changing the map changes
// nothing; SetMetadata does.
func (r *Request) Metadata() map[string]string {
	m := r.CallInfo.Metadata()
	for k, v := range r.changes.Metadata {
		m[k] = v
	}
	return m
}

// SetBody replaces the JSON body sent upstream.
func (r *Request) SetBody(body []byte) {
	r.body.set(body)
	r.changes.Body = body
}

// SetModel sets the body's model field.
func (r *Request) SetModel(model string) {
	r.Model = model
	r.changes.Model = &model
}

// SetUpstream routes the call to a configured upstream by name.
func (r *Request) SetUpstream(name string) {
	r.Upstream = name
	r.changes.Upstream = &name
}

// SetMetadata tags the call; the tag appears in its usage event.
func (r *Request) SetMetadata(key, value string) {
	if r.changes.Metadata == nil {
		r.changes.Metadata = map[string]string{}
	}
	r.changes.Metadata[key] = value
}

// SetHeader sets a header sent upstream; an empty value removes it.
func (r *Request) SetHeader(name, value string) {
	if r.changes.Headers == nil {
		r.changes.Headers = map[string]string{}
	}
	r.changes.Headers[name] = value
}

// Response is the response hook's document: a whole (not streamed) answer.
// Like a Request, it is reused: use it during the hook call that received
// it.
type Response struct {
	Request CallInfo `json:"request"`
	Status  int      `json:"status"`
	// Usage is the answer's token usage; nil when it reported none.
	Usage *Usage `json:"usage"`

	body    lazyBody
	headers headers
	changes Action
}

// Body returns the answer's raw JSON body, or the body set with SetBody;
// nil if it is not JSON (BodyText then holds it). It is copied out of the
// document on the first call.
func (r *Response) Body() json.RawMessage { return r.body.get() }

// BodyText returns the body when it is not JSON, "" otherwise.
func (r *Response) BodyText() string { return r.body.getText() }

// Header returns the first value of a response header, "" if there is none.
func (r *Response) Header(name string) string { return r.headers.get(name) }

// Headers returns every response header, in a map built by each call.
func (r *Response) Headers() map[string][]string { return r.headers.all() }

// SetBody replaces the body the client receives.
func (r *Response) SetBody(body []byte) {
	r.body.set(body)
	r.changes.Body = body
}

// SetHeader sets a response header; an empty value removes it.
func (r *Response) SetHeader(name, value string) {
	if r.changes.Headers == nil {
		r.changes.Headers = map[string]string{}
	}
	r.changes.Headers[name] = value
}

// StreamEvent is the stream_event hook's document: one server-sent event
// of a streamed answer. Like a Request, it is reused: use it during the
// hook call that received it.
type StreamEvent struct {
	Request CallInfo `json:"request"`
	// Event is the event's name ("" for unnamed events).
	Event string `json:"event"`
	// Data is the event's data, e.g. a JSON chunk or "[DONE]".
	Data string `json:"data"`

	changed bool
}

// SetData replaces the event's data.
func (e *StreamEvent) SetData(data string) {
	e.Data = data
	e.changed = true
}

// Usage is a call's token usage.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	TotalTokens       int64 `json:"total_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	CacheWriteTokens  int64 `json:"cache_write_tokens"`
	ReasoningTokens   int64 `json:"reasoning_tokens"`
	// Estimated is set when the provider never reported usage and the
	// gateway counted what it saw.
	Estimated bool `json:"usage_estimated,omitempty"`
}

// UsageEvent is the record of one call (docs/usage-events.md). It mirrors
// the gateway's own event (core.UsageEvent, which a plugin cannot import);
// usage_shape_test.go fails if the two JSON shapes drift apart.
type UsageEvent struct {
	ID                string    `json:"id"`
	Timestamp         time.Time `json:"timestamp"`
	CustomerID        string    `json:"customer_id"`
	Provider          string    `json:"provider"`
	Upstream          string    `json:"upstream,omitempty"`
	Model             string    `json:"model"`
	Operation         string    `json:"operation"`
	InputTokens       int64     `json:"input_tokens"`
	OutputTokens      int64     `json:"output_tokens"`
	TotalTokens       int64     `json:"total_tokens"`
	CachedInputTokens int64     `json:"cached_input_tokens"`
	CacheWriteTokens  int64     `json:"cache_write_tokens"`
	ReasoningTokens   int64     `json:"reasoning_tokens"`
	UsageEstimated    bool      `json:"usage_estimated,omitempty"`
	Stream            bool      `json:"stream"`
	Status            string    `json:"status"`
	HTTPStatus        int       `json:"http_status"`
	LatencyMS         float64   `json:"latency_ms"`
	TimeToFirstToken  *float64  `json:"time_to_first_token_ms,omitempty"`
	RetryCount        int       `json:"retry_count"`
	CacheHit          bool      `json:"cache_hit"`
	// Saved, on a cache hit, is the usage the cached answer cost when it
	// was first made: what the hit saved (the hit's own tokens are zero).
	Saved     *Usage `json:"saved,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Error     string `json:"error,omitempty"`
	// Reasons say why a policy refused the call.
	Reasons  []string          `json:"reasons,omitempty"`
	Metadata map[string]string `json:"metadata"`
	// Cost is what the call cost at the gateway's prices, in dollars, with
	// every digit the gateway computed (down to a picodollar); empty when
	// the model has no price. Parse it with strconv.ParseFloat for display,
	// or keep the digits for billing.
	Cost json.Number `json:"cost,omitempty"`
}
