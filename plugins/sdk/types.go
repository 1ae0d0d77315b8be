package sdk

import (
	"encoding/json"
	"net/http"
	"time"
)

// Request is the request hook's document: one LLM API call before it goes
// upstream. Change it with its Set methods and answer [Continue].
type Request struct {
	ID        string              `json:"id"`
	Provider  string              `json:"provider"`
	Operation string              `json:"operation"`
	Upstream  string              `json:"upstream"`
	Model     string              `json:"model"`
	Stream    bool                `json:"stream"`
	Customer  string              `json:"customer"`
	Metadata  map[string]string   `json:"metadata"`
	Headers   map[string][]string `json:"headers,omitempty"`
	// Body is the raw JSON body the client sent (nil if it was not JSON;
	// BodyText then holds it).
	Body     json.RawMessage `json:"body"`
	BodyText string          `json:"body_text,omitempty"`

	changes Action
}

// Header returns the first value of a request header.
func (r *Request) Header(name string) string {
	return http.Header(r.Headers).Get(name)
}

// SetBody replaces the JSON body sent upstream.
func (r *Request) SetBody(body []byte) {
	r.Body = body
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
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	r.Metadata[key] = value
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

// CallInfo describes the call a response or stream event belongs to.
type CallInfo struct {
	ID        string            `json:"id"`
	Provider  string            `json:"provider"`
	Operation string            `json:"operation"`
	Upstream  string            `json:"upstream"`
	Model     string            `json:"model"`
	Stream    bool              `json:"stream"`
	Customer  string            `json:"customer"`
	Metadata  map[string]string `json:"metadata"`
}

// Response is the response hook's document: a whole (not streamed) answer.
type Response struct {
	Request  CallInfo            `json:"request"`
	Status   int                 `json:"status"`
	Headers  map[string][]string `json:"headers,omitempty"`
	Usage    *Usage              `json:"usage"`
	Body     json.RawMessage     `json:"body"`
	BodyText string              `json:"body_text,omitempty"`

	changes Action
}

// SetBody replaces the body the client receives.
func (r *Response) SetBody(body []byte) {
	r.Body = body
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
// of a streamed answer.
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
	ReasoningTokens   int64 `json:"reasoning_tokens"`
}

// UsageEvent is the record of one call (docs/usage-events.md).
type UsageEvent struct {
	ID                string            `json:"id"`
	Timestamp         time.Time         `json:"timestamp"`
	CustomerID        string            `json:"customer_id"`
	Provider          string            `json:"provider"`
	Upstream          string            `json:"upstream,omitempty"`
	Model             string            `json:"model"`
	Operation         string            `json:"operation"`
	InputTokens       int64             `json:"input_tokens"`
	OutputTokens      int64             `json:"output_tokens"`
	TotalTokens       int64             `json:"total_tokens"`
	CachedInputTokens int64             `json:"cached_input_tokens"`
	CacheWriteTokens  int64             `json:"cache_write_tokens"`
	ReasoningTokens   int64             `json:"reasoning_tokens"`
	UsageEstimated    bool              `json:"usage_estimated,omitempty"`
	Stream            bool              `json:"stream"`
	Status            string            `json:"status"`
	HTTPStatus        int               `json:"http_status"`
	LatencyMS         float64           `json:"latency_ms"`
	TimeToFirstToken  *float64          `json:"time_to_first_token_ms,omitempty"`
	RetryCount        int               `json:"retry_count"`
	CacheHit          bool              `json:"cache_hit"`
	RequestID         string            `json:"request_id,omitempty"`
	Error             string            `json:"error,omitempty"`
	Metadata          map[string]string `json:"metadata"`
}
