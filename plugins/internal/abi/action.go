package abi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/tollgate-dev/tollgate/core"
)

// Actions a hook may answer with.
const (
	ActContinue = "continue"
	ActDeny     = "deny"
	ActRespond  = "respond"
	ActFail     = "fail"
	ActDrop     = "drop"
)

// Action is a hook's answer document. A hook that returns no document
// answers continue with no change.
type Action struct {
	Action   string            `json:"action"`
	Body     json.RawMessage   `json:"body,omitempty"`
	Model    *string           `json:"model,omitempty"`
	Upstream *string           `json:"upstream,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Status   int               `json:"status,omitempty"`
	Code     string            `json:"code,omitempty"`
	Message  string            `json:"message,omitempty"`
	Data     *string           `json:"data,omitempty"`
	// Deliveries and Emits are filled by process plugins, which hand their
	// outbound payloads back with the answer instead of calling the host.
	Deliveries []Delivery `json:"deliveries,omitempty"`
}

// Delivery is one outbound payload of a process plugin: to a destination
// (deliver) or, when Sink is set, to a named sink (emit).
type Delivery struct {
	Dest    string `json:"dest,omitempty"`
	Sink    string `json:"sink,omitempty"`
	Payload []byte `json:"payload"`
}

// ParseAction reads an answer document. An empty document is continue.
func ParseAction(b []byte) (Action, error) {
	var a Action
	if len(bytes.TrimSpace(b)) == 0 {
		a.Action = ActContinue
		return a, nil
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("the plugin answered with a malformed document: %v", err)
	}
	if a.Action == "" {
		a.Action = ActContinue
	}
	switch a.Action {
	case ActContinue, ActDeny, ActRespond, ActFail, ActDrop:
	default:
		return a, fmt.Errorf("the plugin answered with unknown action %q (want continue, deny, respond, fail or drop)", a.Action)
	}
	if a.Action == ActRespond && a.Status != 0 && (a.Status < MinRespondStatus || a.Status > MaxRespondStatus) {
		return a, fmt.Errorf("the plugin answered respond with status %d: a respond status must be %d to %d (or 0 for 200)", a.Status, MinRespondStatus, MaxRespondStatus)
	}
	if len(a.Body) > 0 && bytes.Equal(bytes.TrimSpace(a.Body), []byte("null")) {
		a.Body = nil
	}
	return a, nil
}

// The statuses a respond action may set. A respond is the final answer to
// the client: 1xx are interim answers (net/http would send one and then a
// 200 of its own), and HTTP defines no status from 600 up (net/http panics
// below 100 and clients refuse the rest).
const (
	MinRespondStatus = 200
	MaxRespondStatus = 599
)

// Outcome is what applying an action to a call decided.
type Outcome struct {
	// Answer, if set, is the response to give without calling next.
	Answer *core.Response
	// Err, if set, ends the call (a denial) or fails the stage (fail).
	Err error
}

// ApplyRequest applies a request hook's action to req. ups resolves an
// upstream the plugin picks by name.
func ApplyRequest(stage string, a Action, req *core.Request, ups map[string]*core.Upstream) Outcome {
	switch a.Action {
	case ActDeny:
		return Outcome{Err: Denial(stage, a)}
	case ActFail:
		return Outcome{Err: Failure(stage, a)}
	case ActRespond:
		return Outcome{Answer: Respond(a)}
	case ActDrop:
		return Outcome{Err: &core.Error{Kind: core.KindInternal, Code: "plugin_bad_action", Stage: stage,
			Message: "the plugin answered drop to a request hook; drop is for stream events"}}
	}
	if len(a.Body) > 0 {
		req.SetBody(bytes.Clone(a.Body))
		if a.Model == nil {
			req.Model = gjson.GetBytes(req.Body, "model").String()
		}
	}
	if a.Model != nil && *a.Model != req.Model {
		b, err := sjson.SetBytes(req.Body, "model", *a.Model)
		if err != nil {
			return Outcome{Err: &core.Error{Kind: core.KindInternal, Code: "plugin_bad_action", Stage: stage,
				Message: fmt.Sprintf("setting the model chosen by the plugin: %v", err)}}
		}
		req.SetBody(b)
		req.Model = *a.Model
	}
	if a.Upstream != nil {
		u, ok := ups[*a.Upstream]
		if !ok {
			return Outcome{Err: &core.Error{Kind: core.KindConfig, Code: "plugin_unknown_upstream", Stage: stage,
				Message: fmt.Sprintf("the plugin routed the call to upstream %q, which is not configured (configured: %s)", *a.Upstream, upstreamNames(ups, ""))}}
		}
		// The call's body and path are in its own wire format: sent to an
		// upstream of another, they would go out with the wrong key and
		// shape (the upstream header is refused alike, in core/route.go).
		if req.Format != nil && u.Format != req.Format.Name() {
			format := req.Format.Name()
			return Outcome{Err: &core.Error{Kind: core.KindInternal, Code: "plugin_abi_violation", Stage: stage,
				Message: fmt.Sprintf("the plugin routed the call to upstream %q, which speaks %s, but the call (%s %s) is in the %s format; %s upstreams: %s",
					*a.Upstream, u.Format, req.Method, req.Path, format, format, upstreamNames(ups, format))}}
		}
		req.Upstream = u
	}
	if len(a.Metadata) > 0 {
		m := make(map[string]string, len(req.Metadata)+len(a.Metadata))
		for k, v := range req.Metadata {
			m[k] = v
		}
		for k, v := range a.Metadata {
			m[k] = v
		}
		req.Metadata = m
	}
	if len(a.Headers) > 0 {
		if req.Header == nil {
			req.Header = http.Header{}
		}
		for k, v := range a.Headers {
			setHeader(req.Header, k, v)
		}
	}
	return Outcome{}
}

// ApplyResponse applies a response hook's action to resp.
func ApplyResponse(stage string, a Action, resp *core.Response) Outcome {
	switch a.Action {
	case ActDeny:
		return Outcome{Err: Denial(stage, a)}
	case ActFail:
		return Outcome{Err: Failure(stage, a)}
	case ActRespond:
		return Outcome{Answer: Respond(a)}
	case ActDrop:
		return Outcome{Err: &core.Error{Kind: core.KindInternal, Code: "plugin_bad_action", Stage: stage,
			Message: "the plugin answered drop to a response hook; drop is for stream events"}}
	}
	if len(a.Body) > 0 {
		resp.Body = bytes.Clone(a.Body)
	}
	if len(a.Headers) > 0 {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		for k, v := range a.Headers {
			setHeader(resp.Header, k, v)
		}
	}
	return Outcome{Answer: resp}
}

// ApplyStreamEvent applies a stream_event hook's action to ev: keep reports
// whether the event goes on to the client.
func ApplyStreamEvent(stage string, a Action, ev *core.Event) (keep bool, err error) {
	switch a.Action {
	case ActDrop:
		return false, nil
	case ActFail:
		return false, Failure(stage, a)
	case ActDeny, ActRespond:
		return false, &core.Error{Kind: core.KindInternal, Code: "plugin_bad_action", Stage: stage,
			Message: fmt.Sprintf("the plugin answered %s to a stream event; want continue, drop or fail", a.Action)}
	}
	if a.Data != nil {
		ev.Data = []byte(*a.Data)
		ev.Raw = EncodeEvent(ev.Name, ev.Data)
	}
	return true, nil
}

// EncodeEvent renders a server-sent event.
func EncodeEvent(name string, data []byte) []byte {
	var b []byte
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// Denial is the error a deny action answers the call with (403 unless the
// plugin set a status).
func Denial(stage string, a Action) *core.Error {
	e := &core.Error{Kind: core.KindDenied, Code: a.Code, Message: a.Message, Stage: stage}
	if e.Code == "" {
		e.Code = "plugin_denied"
	}
	if e.Message == "" {
		e.Message = "refused by plugin " + stage
	}
	if a.Status >= 400 && a.Status < 600 {
		e.Status = a.Status
	}
	return e
}

// Failure is the stage failure a fail action reports; on_error decides.
func Failure(stage string, a Action) *core.Error {
	msg := a.Message
	if msg == "" {
		msg = "the plugin reported a failure"
	}
	code := a.Code
	if code == "" {
		code = "plugin_failed"
	}
	return &core.Error{Kind: core.KindInternal, Code: code, Stage: stage, Message: "plugin: " + msg}
}

// Respond is the answer a respond action gives. Its status was checked by
// [ParseAction].
func Respond(a Action) *core.Response {
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range a.Headers {
		setHeader(h, k, v)
	}
	return &core.Response{Status: status, Header: h, Body: bytes.Clone(a.Body)}
}

// setHeader sets a header; an empty value removes it.
func setHeader(h http.Header, k, v string) {
	if v == "" {
		h.Del(k)
		return
	}
	h.Set(k, v)
}

// upstreamNames lists the configured upstreams of a format ("" for all),
// sorted.
func upstreamNames(ups map[string]*core.Upstream, format string) string {
	names := make([]string, 0, len(ups))
	for k, u := range ups {
		if format == "" || u.Format == format {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Plain reports whether a continue action changes nothing.
func (a Action) Plain() bool {
	return len(a.Body) == 0 && a.Model == nil && a.Upstream == nil && len(a.Metadata) == 0 && len(a.Headers) == 0
}
