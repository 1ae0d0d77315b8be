package core

import "net/http"

// Format is a provider's wire format (OpenAI, Anthropic, Gemini): it knows
// the format's endpoints, how to read model, stream flag and usage from its
// bodies, and how its errors look. Implementations live in providers/ and
// must be safe for concurrent use.
type Format interface {
	// Name is the provider name used in usage events, e.g. "openai".
	Name() string
	// Match maps a method and path as the client sent them to an operation
	// name, e.g. "chat.completions".
	Match(method, path string) (operation string, ok bool)
	// Parse fills req.Model and req.Stream from the body. It never fails:
	// a body it cannot read sets req.ParseErr. It may rewrite the body (to
	// ask upstream for usage on a stream) and keep state on the request.
	Parse(req *Request)
	// Validate checks the body against the operation's schema.
	Validate(req *Request) *Error
	// UpstreamPath maps the client's path onto the upstream's base URL.
	UpstreamPath(req *Request) string
	// Authorize sets the provider credentials on an upstream request header.
	Authorize(h http.Header, apiKey string)
	// Usage reads the usage from a whole response body.
	Usage(req *Request, body []byte) (Usage, bool)
	// ObserveStream returns an observer for one streamed response.
	ObserveStream(req *Request) StreamObserver
	// ErrorBody renders e in the provider's own error shape.
	ErrorBody(e *Error) []byte
}

// StreamObserver sees every event of one stream in order. Observe adds what
// the event says about usage to u and returns false to hide the event from
// the client (an event the gateway asked for on its own behalf). Finished
// reports whether the format's last event has passed, so that a client
// closing the stream after it is not counted as going away.
type StreamObserver interface {
	Observe(ev *Event, u *Usage) (keep bool)
	Finished() bool
}

// StreamFailer is an optional interface of a [StreamObserver] whose format
// can report a failure inside a stream that then ends cleanly: Anthropic's
// error event (overloaded_error mid-answer), the Responses API's
// response.failed. Failure returns what went wrong, or "" when nothing did;
// a stream that ends with a failure is recorded as an upstream error.
type StreamFailer interface {
	Failure() string
}

// AnswerFailer is an optional interface of a [Format] whose upstreams may
// answer 200 with an error in place of the answer: servers that copy
// OpenAI's API (vLLM's {"object":"error",…}; OpenRouter, when the model
// fails after it began). AnswerFailure returns what went wrong, or "" for
// an answer. The call stage asks it of an answer whose usage could not be
// read (an error has none; an answer that has usage costs nothing more)
// and then fails the call as the upstream's error, which passes the body
// and status on to the client as they came.
type AnswerFailer interface {
	AnswerFailure(req *Request, body []byte) string
}

// PromptEstimator is an optional interface of a [Format] whose upstreams
// report a call's usage only at its end (OpenAI's last stream chunk): a
// call cut short before then has no count of its prompt, which the
// upstream bills all the same. PromptTokens estimates that count from
// req's body, or returns 0 when it cannot. The engine asks for it only
// for a call that reached the upstream and ended with no usable report of
// its usage ([EstimatePrompt]), never on every call.
type PromptEstimator interface {
	PromptTokens(req *Request) int64
}
