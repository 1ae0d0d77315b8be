package core

import "net/http"

// Response is the answer to a call: a whole body, or a stream of events.
type Response struct {
	// Status is the HTTP status to answer with.
	Status int
	// Header holds the response headers passed to the client.
	Header http.Header
	// Body is the whole body of a non-streamed response. A stage that
	// changes it assigns a new slice and does not write into this one: it
	// may be shared (a cache's entry), and the usage read from it is kept
	// for as long as Body is the same slice ([Response.ReadUsage]).
	Body []byte
	// Stream is set for a streamed response; Body is then nil. Whoever
	// receives the Response must drain or Close the stream.
	Stream Stream
	// Usage is the call's token usage once known. For a stream it fills in as
	// events pass.
	Usage Usage
	// UsageKnown reports whether Usage has been read from the answer.
	UsageKnown bool

	// usageOf is the Body that Usage was read from by ReadUsage, when
	// usageRead is set: an answer with no usage to read is read once.
	usageRead bool
	usageOf   []byte
}

// ReadUsage fills in Usage and UsageKnown from Body, as req's format reads
// them, and reports UsageKnown. It reads nothing when the usage is known
// already, the answer is a stream (whose usage fills in as its events
// pass), or Body is the slice it read before: an answer with no usage to
// read (an error body, a body that is not JSON, a model that omits usage)
// is scanned once, not again by every stage that wants its usage. Whoever
// wants a whole answer's usage reads it so.
//
// What it read is kept keyed to the Body slice itself rather than by a
// flag: a stage that assigns Body a new body — a plugin's rewrite, a
// policy's patch, a new Response — has it read anew without having to
// say so, as a flag left set would lose the new body's usage.
func (r *Response) ReadUsage(req *Request) bool {
	if r.UsageKnown || r.Stream != nil || req.Format == nil || r.usageRead && sameSlice(r.usageOf, r.Body) {
		return r.UsageKnown
	}
	r.Usage, r.UsageKnown = req.Format.Usage(req, r.Body)
	r.usageRead, r.usageOf = true, r.Body
	return r.UsageKnown
}

// sameSlice reports whether a and b are the same bytes in memory (two
// empty slices read alike whatever they point at).
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
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
