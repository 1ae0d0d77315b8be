package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/core"
)

// chatRequest is the part of a chat completion request the gateway reads.
type chatRequest struct {
	Model         *string `json:"model"`
	Stream        bool    `json:"stream"`
	StreamOptions *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages shape `json:"messages"`
}

// shape records what kind of JSON value a field held, without copying it.
type shape struct {
	set     bool
	isArray bool
	empty   bool
}

func (s *shape) UnmarshalJSON(b []byte) error {
	s.set = true
	s.isArray = len(b) > 0 && b[0] == '['
	s.empty = s.isArray && len(bytes.TrimSpace(b[1:len(b)-1])) == 0
	return nil
}

// parsed is what Parse found, kept for Validate.
type parsed struct {
	hasModel bool
	messages shape
	// hideUsage: the gateway asked upstream for usage on a stream the client
	// did not ask it for, so the usage chunk is hidden from the client.
	hideUsage bool
}

// Parse reads model and stream flag. For a stream whose client did not ask
// for usage, it asks upstream for it (stream_options.include_usage) and
// remembers to hide the extra chunk, so streamed calls are metered too.
func (Format) Parse(req *core.Request) {
	var cr chatRequest
	if err := json.Unmarshal(req.Body, &cr); err != nil {
		req.ParseErr = describe(err)
		return
	}
	st := &parsed{hasModel: cr.Model != nil, messages: cr.Messages}
	req.SetState(st)
	if cr.Model != nil {
		req.Model = *cr.Model
	}
	req.Stream = cr.Stream
	if !cr.Stream {
		return
	}
	if cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage != nil && *cr.StreamOptions.IncludeUsage {
		return
	}
	if b, err := askForUsage(req.Body, cr.StreamOptions != nil); err == nil {
		req.SetBody(b)
		st.hideUsage = true
	}
}

// askForUsage sets stream_options.include_usage in the raw body, keeping
// every other byte as the client sent it when it can.
func askForUsage(body []byte, hasOptions bool) ([]byte, error) {
	if !hasOptions {
		i := bytes.IndexByte(body, '{')
		rest := bytes.TrimSpace(body[i+1:])
		sep := ","
		if len(rest) > 0 && rest[0] == '}' {
			sep = ""
		}
		out := make([]byte, 0, len(body)+40)
		out = append(out, body[:i+1]...)
		out = append(out, `"stream_options":{"include_usage":true}`...)
		out = append(out, sep...)
		return append(out, body[i+1:]...), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(m["stream_options"], &opts); err != nil || opts == nil {
		opts = map[string]json.RawMessage{}
	}
	opts["include_usage"] = json.RawMessage("true")
	raw, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	m["stream_options"] = raw
	return json.Marshal(m)
}

// describe turns a JSON decoding error into a message a client can act on.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("invalid type for '%s': expected %s, got %s", te.Field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("the body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	return fmt.Errorf("the body is not valid JSON: %v", err)
}

// Validate checks a chat completion request for the fields OpenAI requires.
func (Format) Validate(req *core.Request) *core.Error {
	if req.ParseErr != nil {
		return invalid("invalid_json", "", req.ParseErr.Error())
	}
	st, _ := req.State().(*parsed)
	if st == nil {
		return nil
	}
	switch {
	case !st.hasModel || req.Model == "":
		return invalid("missing_required_parameter", "model", "you must provide a model parameter")
	case !st.messages.set:
		return invalid("missing_required_parameter", "messages", "missing required parameter: 'messages'")
	case !st.messages.isArray:
		return invalid("invalid_type", "messages", "invalid type for 'messages': expected an array of messages")
	case st.messages.empty:
		return invalid("empty_array", "messages", "invalid 'messages': empty array; expected at least one message")
	}
	return nil
}

func invalid(code, param, msg string) *core.Error {
	return &core.Error{Kind: core.KindValidation, Code: code, Param: param, Message: msg}
}
