package abi

import "github.com/tollgate-dev/tollgate/core"

// Input is what a hook's document is made from: req for the request hook,
// req and resp for response, req and ev for stream_event, events for usage.
type Input struct {
	Req    *core.Request
	Resp   *core.Response
	Ev     *core.Event
	Events []*core.UsageEvent
}

// Encode appends the hook's document to b.
func (in *Input) Encode(b []byte, hook int) ([]byte, error) {
	switch hook {
	case HookRequest:
		return AppendRequest(b, in.Req), nil
	case HookResponse:
		return AppendResponse(b, in.Req, in.Resp), nil
	case HookStreamEvent:
		return AppendStreamEvent(b, in.Req, in.Ev), nil
	}
	return AppendUsage(b, in.Events)
}
