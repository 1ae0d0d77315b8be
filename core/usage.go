package core

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Usage is a call's token usage, normalized across providers.
//
// InputTokens counts every input token, cache reads and cache writes
// included; CachedInputTokens and CacheWriteTokens are parts of it.
// ReasoningTokens is a part of OutputTokens. TotalTokens is input + output.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	TotalTokens       int64 `json:"total_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	CacheWriteTokens  int64 `json:"cache_write_tokens"`
	ReasoningTokens   int64 `json:"reasoning_tokens"`
	// Estimated is set when the provider never reported usage (a stream cut
	// short before its usage event), or reported usage that could not be
	// read or cannot be true ([CheckUsage]), and the gateway counted what
	// it saw.
	Estimated bool `json:"usage_estimated,omitempty"`
	// Problem, when not empty, says why the upstream's own report was not
	// used — a count that could not be read or cannot be true, an answer
	// with no usage in it — quoting the report. Usage is then the
	// gateway's estimate, Estimated is set, and the engine logs Problem.
	Problem string `json:"-"`
}

// IsZero reports whether no tokens were counted.
func (u Usage) IsZero() bool { return u == Usage{} }

// Status values of a usage event: how the call ended.
const (
	StatusOK            = "ok"
	StatusDenied        = "denied"
	StatusInvalid       = "invalid"
	StatusUnauthorized  = "unauthorized"
	StatusRateLimited   = "rate_limited"
	StatusUpstreamError = "upstream_error"
	StatusCircuitOpen   = "circuit_open"
	StatusTimeout       = "timeout"
	StatusClientAborted = "client_aborted"
	StatusError         = "error"
)

// Outcome is the final result of one call, handed to every [Completer]
// exactly once.
type Outcome struct {
	Request *Request
	// Response is nil when the call failed before an answer.
	Response *Response
	// Err is the error the call ended with, if any.
	Err error
	// Status is one of the Status… constants.
	Status string
	// HTTPStatus is the status the client was (or would have been)
	// answered with; 499 when the client went away. A stream's status line
	// leaves before its first event, so a stream that then fails — the
	// upstream breaking or reporting an error, a stage failing or cutting
	// it — keeps that status (200); Status and Err say how it ended.
	HTTPStatus int
	Usage      Usage
	// Latency runs from Received to the end of the answer (last stream event).
	Latency time.Duration
	// TimeToFirstToken is the delay to the first stream event (streams only).
	TimeToFirstToken time.Duration
	// UpstreamRequestID is the provider's id for the call, when it sent one.
	UpstreamRequestID string
	// Context is the call's context as its stages saw it: an [Observer]
	// finds the call's trace span here. It may be done already.
	Context context.Context
}

// UsageEvent is the record of one call that tracking delivers to sinks. Its
// JSON form is documented in docs/usage-events.md.
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
	// was first made: what the hit saved. A hit's own token fields are zero,
	// as nothing was billed upstream.
	Saved     *Usage            `json:"saved,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Error     string            `json:"error,omitempty"`
	Reasons   []string          `json:"reasons,omitempty"` // why a policy refused the call
	Metadata  map[string]string `json:"metadata"`
	// Cost is what the call cost at the configured prices; nil when the
	// model has no price. Tracking fills it in off the request path.
	Cost *USD `json:"cost,omitempty"`
}

// The longest error text and policy reason a usage event carries, and the
// most reasons. An error can quote what the client sent (an unknown path,
// an upstream header's value), a policy's reason what it matched; every
// event rides the outbox's backlog, which all sinks share, so one client
// must not be able to make events of megabytes.
const (
	MaxEventErrorBytes = 1024
	MaxEventReasons    = 16
)

// eventReasons copies reasons for an event, each clipped to
// MaxEventErrorBytes, the last of MaxEventReasons saying how many more
// there were.
func eventReasons(reasons []string) []string {
	out := make([]string, 0, min(len(reasons), MaxEventReasons))
	for i, r := range reasons {
		if i == MaxEventReasons-1 && len(reasons) > MaxEventReasons {
			return append(out, fmt.Sprintf("… and %d more", len(reasons)-i))
		}
		out = append(out, clip(r, MaxEventErrorBytes))
	}
	return out
}

// NewUsageEvent builds the usage event for an outcome. It copies what it
// needs, so the event stays valid after the request is gone.
func NewUsageEvent(o *Outcome) *UsageEvent {
	r := o.Request
	ev := eventPool.Get().(*UsageEvent)
	*ev = UsageEvent{
		ID:                r.ID,
		Timestamp:         r.Received.UTC(),
		CustomerID:        r.Customer,
		Model:             r.Model,
		Operation:         r.Operation,
		InputTokens:       o.Usage.InputTokens,
		OutputTokens:      o.Usage.OutputTokens,
		TotalTokens:       o.Usage.TotalTokens,
		CachedInputTokens: o.Usage.CachedInputTokens,
		CacheWriteTokens:  o.Usage.CacheWriteTokens,
		ReasoningTokens:   o.Usage.ReasoningTokens,
		UsageEstimated:    o.Usage.Estimated,
		Stream:            r.Stream,
		Status:            o.Status,
		HTTPStatus:        o.HTTPStatus,
		LatencyMS:         ms(o.Latency),
		RetryCount:        r.Retries,
		CacheHit:          r.CacheHit,
		RequestID:         o.UpstreamRequestID,
		Metadata:          r.Metadata,
	}
	if r.Format != nil {
		ev.Provider = r.Format.Name()
	}
	if r.Upstream != nil {
		ev.Upstream = r.Upstream.Name
	}
	if r.Stream && o.TimeToFirstToken > 0 {
		t := ms(o.TimeToFirstToken)
		ev.TimeToFirstToken = &t
	}
	if o.Err != nil {
		ev.Error = clip(o.Err.Error(), MaxEventErrorBytes)
		if e := AsError(o.Err); len(e.Reasons) > 0 {
			ev.Reasons = eventReasons(e.Reasons)
		}
	}
	if r.CacheHit {
		saved := o.Usage
		ev.Saved = &saved
		ev.InputTokens, ev.OutputTokens, ev.TotalTokens = 0, 0, 0
		ev.CachedInputTokens, ev.CacheWriteTokens, ev.ReasoningTokens = 0, 0, 0
		ev.UsageEstimated = false
	}
	return ev
}

// eventPool holds events given back with [RecycleUsageEvent]: an event
// lives from the call's end to the outbox's next commit, and every tracked
// call makes one, so reusing them saves the collector a few hundred bytes
// a call (docs/benchmarks.md, "What the c=1 tail is made of").
var eventPool = sync.Pool{New: func() any { return new(UsageEvent) }}

// RecycleUsageEvent gives ev back to [NewUsageEvent] for reuse. Only the
// event's owner may call it, once, when nothing refers to ev any more:
// the durable outbox does, once it has persisted the event. An event that
// is never recycled is simply collected.
func RecycleUsageEvent(ev *UsageEvent) {
	*ev = UsageEvent{}
	eventPool.Put(ev)
}

// ms converts to milliseconds rounded to microseconds.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
