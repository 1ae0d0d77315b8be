package anthropic

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parsed is what Parse found in a messages body, kept for Validate.
type parsed struct {
	hasModel, hasMaxTokens, hasMessages, emptyMessages bool
}

// Parse reads model and stream flag in one pass over the top-level keys.
// Bodies of the other operations are read for a model if they are JSON, and
// never refused: they pass through as sent.
func (Format) Parse(req *core.Request) {
	metered := req.Operation == OpMessages || req.Operation == OpCountTokens
	body := req.Body
	if !metered {
		if len(body) > 0 && body[0] == '{' {
			req.Model = gjson.GetBytes(body, "model").Str
		}
		return
	}
	if !jsonscan.Valid(body) {
		req.ParseErr = invalid("", "the request body is not valid JSON: "+jsonscan.Why(body))
		return
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if !root.IsObject() {
		req.ParseErr = invalid("", "the request body must be a JSON object")
		return
	}
	st := &parsed{}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if v.Type != gjson.String {
				req.ParseErr = typeError("model", "string", v)
				return false
			}
			st.hasModel, req.Model = true, v.Str
		case "stream":
			if !v.IsBool() && v.Type != gjson.Null {
				req.ParseErr = typeError("stream", "boolean", v)
				return false
			}
			req.Stream = v.Bool()
		case "max_tokens":
			if v.Type != gjson.Number {
				req.ParseErr = typeError("max_tokens", "integer", v)
				return false
			}
			st.hasMaxTokens = true
		case "messages":
			if !v.IsArray() {
				req.ParseErr = typeError("messages", "array", v)
				return false
			}
			st.hasMessages = true
			st.emptyMessages = emptyArray(v.Raw)
		}
		return true
	})
	req.SetState(st)
}

// Validate checks a messages body for the fields Anthropic requires, and
// says what is wrong as Anthropic does ("max_tokens: Field required").
func (Format) Validate(req *core.Request) *core.Error {
	if req.ParseErr != nil {
		var e *core.Error
		if errors.As(req.ParseErr, &e) {
			return e
		}
		return invalid("", req.ParseErr.Error())
	}
	st, _ := req.State().(*parsed)
	if st == nil {
		return nil
	}
	switch {
	case !st.hasModel || req.Model == "":
		return invalid("model", "model: Field required")
	case !st.hasMessages:
		return invalid("messages", "messages: Field required")
	case !st.hasMaxTokens && req.Operation == OpMessages:
		return invalid("max_tokens", "max_tokens: Field required")
	case st.emptyMessages && req.Operation == OpMessages:
		return invalid("messages", "messages: at least one message is required")
	}
	return nil
}

func typeError(field, want string, v gjson.Result) *core.Error {
	return invalid(field, fmt.Sprintf("%s: Input should be a valid %s", field, want))
}

func invalid(param, msg string) *core.Error {
	return &core.Error{Kind: core.KindValidation, Code: "invalid_request_error", Param: param, Message: msg}
}

// emptyArray reports whether raw is "[]", maybe with spaces inside.
func emptyArray(raw string) bool {
	for i := 1; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return raw[i] == ']'
		}
	}
	return false
}
