package core

import "net/http"

// Response is the answer to a call: a whole body, or a stream of events.
type Response struct {
	// Status is the HTTP status to answer with.
	Status int
	// Header holds the response headers passed to the client.
	Header http.Header
	// Body is the whole body of a non-streamed response.
	Body []byte
	// Stream is set for a streamed response; Body is then nil. Whoever
	// receives the Response must drain or Close the stream.
	Stream Stream
	// Usage is the call's token usage once known. For a stream it fills in as
	// events pass.
	Usage Usage
	// UsageKnown reports whether Usage has been read from the answer.
	UsageKnown bool
}

// Stream is a sequence of provider events, read one at a time.
//
// Next returns io.EOF after the last event. The returned event and the bytes
// it points to are valid only until the next call to Next: a stage that keeps
// events (a cache) copies them. Close releases the stream and cancels the
// upstream read; it is safe to call more than once.
//
// A stage that cuts a stream short on purpose (an output guardrail) first
// returns its own closing event, then an [*Error] of kind denied: the engine
// records the outcome as denied and the client's response ends cleanly.
type Stream interface {
	Next() (*Event, error)
	Close() error
}

// Event is one server-sent event exactly as it arrived.
type Event struct {
	// Raw is the event's bytes, including its terminating blank line; it is
	// what the client receives.
	Raw []byte
	// Name is the "event:" field, if any.
	Name string
	// Data is the "data:" payload (lines joined with "\n").
	Data []byte
}

// StreamFunc adapts a pair of functions to a [Stream].
type StreamFunc struct {
	NextFunc  func() (*Event, error)
	CloseFunc func() error
}

// Next calls NextFunc.
func (s StreamFunc) Next() (*Event, error) { return s.NextFunc() }

// Close calls CloseFunc, if set.
func (s StreamFunc) Close() error {
	if s.CloseFunc == nil {
		return nil
	}
	return s.CloseFunc()
}
