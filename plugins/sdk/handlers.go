package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Hook bits of ABI v1, as reported by the tollgate_hooks export.
const (
	hookRequest     = 1 << 0
	hookResponse    = 1 << 1
	hookStreamEvent = 1 << 2
	hookUsage       = 1 << 3
)

var (
	onRequest     func(*Request) Action
	onResponse    func(*Response) Action
	onStreamEvent func(*StreamEvent) Action
	onUsage       func(*UsageEvent) error
)

// OnRequest registers the request hook: it sees each call before it goes
// upstream and may change it (model, upstream, body, metadata, headers),
// answer it, or deny it. Register hooks in an init function.
func OnRequest(f func(*Request) Action) { onRequest = f }

// OnResponse registers the response hook: it sees each whole (not
// streamed) answer and may change or replace it.
func OnResponse(f func(*Response) Action) { onResponse = f }

// OnStreamEvent registers the stream_event hook: it sees each event of a
// streamed answer and may change its data or drop it.
func OnStreamEvent(f func(*StreamEvent) Action) { onStreamEvent = f }

// OnUsage registers the usage hook, which makes the plugin a sink: it gets
// every call's usage event. An error makes the host retry the batch later,
// so f should be idempotent by event ID.
func OnUsage(f func(*UsageEvent) error) { onUsage = f }

// hooks is the bit mask of registered hooks.
func hooks() int32 {
	var m int32
	if onRequest != nil {
		m |= hookRequest
	}
	if onResponse != nil {
		m |= hookResponse
	}
	if onStreamEvent != nil {
		m |= hookStreamEvent
	}
	if onUsage != nil {
		m |= hookUsage
	}
	return m
}

// docs are the documents handed to hooks, reused from call to call: a
// fresh one per call would cost a heap allocation of ~0.5 KB, about 1 µs
// in a WebAssembly guest (docs/benchmarks.md). Hooks run one at a time.
var docs struct {
	request  Request
	response Response
	event    StreamEvent
}

// dispatch runs one hook on its input document and appends the answer
// document to out; it returns out unchanged (empty) for a plain continue.
// A panic in the handler becomes a fail answer rather than a trap.
func dispatch(hook int, in, out []byte) (ans []byte) {
	defer func() {
		if r := recover(); r != nil {
			takePending() // the call failed: its deliveries are dropped
			ans = encode(out, Fail("panic: %v", r))
		}
	}()
	callSeq++
	a := handle(hook, in)
	a.Deliveries = takePending()
	if a.empty() {
		return out
	}
	return encode(out, a)
}

func handle(hook int, in []byte) Action {
	switch hook {
	case hookRequest:
		if onRequest == nil {
			return Continue()
		}
		r := &docs.request
		*r = Request{}
		if err := decodeRequest(in, r); err != nil {
			return Fail("sdk: decoding the request document: %v", err)
		}
		return onRequest(r).merge(r.changes)
	case hookResponse:
		if onResponse == nil {
			return Continue()
		}
		r := &docs.response
		*r = Response{}
		if err := decodeResponse(in, r); err != nil {
			return Fail("sdk: decoding the response document: %v", err)
		}
		return onResponse(r).merge(r.changes)
	case hookStreamEvent:
		if onStreamEvent == nil {
			return Continue()
		}
		e := &docs.event
		*e = StreamEvent{}
		if err := decodeStreamEvent(in, e); err != nil {
			return Fail("sdk: decoding the stream event document: %v", err)
		}
		a := onStreamEvent(e)
		if a.Action == "continue" && e.changed && a.Data == nil {
			a.Data = &e.Data
		}
		return a
	case hookUsage:
		if onUsage == nil {
			return Continue()
		}
		// Usage events come in batches, off the request path: encoding/json
		// is fast enough here and keeps UsageEvent's full shape (timestamps).
		var doc struct {
			Events []UsageEvent `json:"events"`
		}
		if err := json.Unmarshal(in, &doc); err != nil {
			return Fail("sdk: decoding the usage document: %v", err)
		}
		for i := range doc.Events {
			if err := onUsage(&doc.Events[i]); err != nil {
				return Fail("usage event %s: %v", doc.Events[i].ID, err)
			}
		}
		return Continue()
	}
	return Fail("sdk: unknown hook %d", hook)
}

// encode appends a's document to out; an answer that cannot be encoded
// becomes a fail answer saying why.
func encode(out []byte, a Action) []byte {
	b, err := appendAction(out, a)
	if err != nil {
		b, _ = appendAction(out, Fail("sdk: the %s answer: %v", a.Action, err))
	}
	return b
}

// hookByName maps a document's hook field to its bit.
func hookByName(name string) (int, error) {
	switch name {
	case "request":
		return hookRequest, nil
	case "response":
		return hookResponse, nil
	case "stream_event":
		return hookStreamEvent, nil
	case "usage":
		return hookUsage, nil
	}
	return 0, fmt.Errorf("unknown hook %q", name)
}

var errNoHook = errors.New("sdk: the document has no hook field")
