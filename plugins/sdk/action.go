package sdk

import (
	"encoding/json"
	"fmt"
)

// Action is a hook's answer. Build one with [Continue], [Deny], [Respond],
// [Fail] or [Drop].
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

	Deliveries []delivery `json:"deliveries,omitempty"`
}

type delivery struct {
	Dest    string `json:"dest,omitempty"`
	Sink    string `json:"sink,omitempty"`
	Payload []byte `json:"payload"`
}

// Continue lets the call go on, with the changes made through the
// document's Set methods.
func Continue() Action { return Action{Action: "continue"} }

// Deny refuses the call with an HTTP status (403 if 0), a machine-readable
// code and a message the client sees. A denial is an answer, not a failure:
// on_error does not apply.
func Deny(status int, code, message string) Action {
	return Action{Action: "deny", Status: status, Code: code, Message: message}
}

// Respond answers the call without going upstream (request hook) or
// replaces the answer (response hook) with status (200 to 599; 0 is 200).
// The gateway refuses another status as a broken answer: the stage fails.
func Respond(status int, body []byte) Action {
	return Action{Action: "respond", Status: status, Body: body}
}

// Fail reports that the plugin could not do its work; the stage's on_error
// decides whether the call goes on without it.
func Fail(format string, args ...any) Action {
	return Action{Action: "fail", Message: fmt.Sprintf(format, args...)}
}

// Drop removes a stream event before it reaches the client.
func Drop() Action { return Action{Action: "drop"} }

// merge adds a document's pending changes to a continue action.
func (a Action) merge(c Action) Action {
	if a.Action != "continue" {
		return a
	}
	if a.Body == nil {
		a.Body = c.Body
	}
	if a.Model == nil {
		a.Model = c.Model
	}
	if a.Upstream == nil {
		a.Upstream = c.Upstream
	}
	if a.Metadata == nil {
		a.Metadata = c.Metadata
	}
	if a.Headers == nil {
		a.Headers = c.Headers
	}
	return a
}

// empty reports whether the action is a plain continue.
func (a Action) empty() bool {
	return a.Action == "continue" && a.Body == nil && a.Model == nil && a.Upstream == nil &&
		a.Metadata == nil && a.Headers == nil && a.Data == nil && a.Deliveries == nil
}
