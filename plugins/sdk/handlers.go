package sdk

import (
	"encoding/json"
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

// dispatch runs one hook on its input document and returns the answer
// document, nil for a plain continue. A panic in the handler becomes a
// fail answer rather than a trap.
func dispatch(hook int, in []byte) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			out = encode(Fail("panic: %v", r))
		}
	}()
	a := handle(hook, in)
	a.Deliveries = takePending()
	if a.empty() {
		return nil
	}
	return encode(a)
}

func handle(hook int, in []byte) Action {
	switch hook {
	case hookRequest:
		if onRequest == nil {
			return Continue()
		}
		var r Request
		if err := json.Unmarshal(in, &r); err != nil {
			return Fail("sdk: decoding the request document: %v", err)
		}
		return onRequest(&r).merge(r.changes)
	case hookResponse:
		if onResponse == nil {
			return Continue()
		}
		var r Response
		if err := json.Unmarshal(in, &r); err != nil {
			return Fail("sdk: decoding the response document: %v", err)
		}
		return onResponse(&r).merge(r.changes)
	case hookStreamEvent:
		if onStreamEvent == nil {
			return Continue()
		}
		var e StreamEvent
		if err := json.Unmarshal(in, &e); err != nil {
			return Fail("sdk: decoding the stream event document: %v", err)
		}
		a := onStreamEvent(&e)
		if a.Action == "continue" && e.changed && a.Data == nil {
			a.Data = &e.Data
		}
		return a
	case hookUsage:
		if onUsage == nil {
			return Continue()
		}
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

func encode(a Action) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		b, _ = json.Marshal(Fail("sdk: encoding the answer: %v", err))
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
