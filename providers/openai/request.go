package openai

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/sjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parsed is what Parse found, kept for Validate.
type parsed struct {
	hasModel    bool
	hasMessages bool
	// hideUsage: the gateway asked upstream for usage on a stream the client
	// did not ask it for, so the usage chunk is hidden from the client.
	hideUsage bool
}

// Parse reads model and stream flag from the top-level keys in the pass
// that checks the body is well-formed JSON (jsonscan.ValidFields: no
// reflection, no copies). For a stream whose client did not ask for usage, it asks upstream
// for it (stream_options.include_usage) and remembers to hide the extra
// chunk, so streamed calls are metered too.
func (Format) Parse(req *core.Request) {
	if strings.HasPrefix(req.Path, "/openai/") {
		defer useDeployment(req) // an Azure client's call
	}
	if req.Operation != OpChatCompletions && req.Operation != OpCompletions {
		parseOther(req)
		return
	}
	body := req.Body
	// One pass checks the body and reads its fields; what it read counts
	// only once the whole body is known to be valid.
	var (
		st       = &parsed{}
		model    string
		stream   bool
		options  string // the last stream_options, which the upstream reads
		repeated bool   // stream_options, or include_usage in it, is there twice
		fieldErr error  // the first field of the wrong type
	)
	valid, object := jsonscan.ValidFields(body, func(k, v string) {
		if fieldErr != nil {
			return // the first error is the one reported
		}
		switch k {
		case "model":
			m, ok := jsonscan.Unquote(v)
			if !ok {
				fieldErr = typeError("model", "a string", v)
				return
			}
			st.hasModel, model = true, m
		case "stream":
			if kind := jsonscan.KindOf(v); kind != jsonscan.Bool && kind != jsonscan.Null {
				fieldErr = typeError("stream", "a boolean", v)
				return
			}
			stream = v == "true"
		case "stream_options":
			// an object or null; anything else could not take the
			// include_usage the gateway adds, and OpenAI refuses it too
			if kind := jsonscan.KindOf(v); kind != jsonscan.Object && kind != jsonscan.Null {
				fieldErr = typeError("stream_options", "an object", v)
				return
			}
			repeated = repeated || options != ""
			options = v
		case "messages":
			if jsonscan.KindOf(v) != jsonscan.Array {
				fieldErr = typeError("messages", "an array of messages", v)
				return
			}
			if emptyArray(v) {
				fieldErr = invalid("empty_array", "messages", "invalid 'messages': empty array; expected at least one message")
				return
			}
			st.hasMessages = true
		}
	})
	switch {
	case !valid:
		req.ParseErr = invalid("invalid_json", "", "the body is not valid JSON: "+jsonscan.Why(body))
		return
	case !object:
		req.ParseErr = invalid("invalid_json", "", "the body must be a JSON object")
		return
	}
	req.Model, req.Stream, req.ParseErr = model, stream, fieldErr
	req.SetState(st)
	if req.ParseErr != nil || !req.Stream {
		return
	}
	includeUsage, seen := false, false
	jsonscan.Fields(options, func(k, v string) {
		if k == "include_usage" {
			repeated = repeated || seen
			includeUsage, seen = v == "true", true
		}
	})
	if includeUsage {
		return
	}
	if b, err := askForUsage(body, options, repeated); err == nil {
		req.SetBody(b)
		st.hideUsage = true
	}
}

// askForUsage sets stream_options.include_usage in body, options being the
// last stream_options in it ("" if none). Where a key is repeated, sjson
// would set the first, and the upstream reads the last (a client could
// turn metering off that way): then a stream_options of the gateway's own
// goes after all the others, a copy of the last with include_usage last.
func askForUsage(body []byte, options string, repeated bool) ([]byte, error) {
	if !repeated {
		return sjson.SetRawBytes(body, "stream_options.include_usage", []byte("true"))
	}
	obj := "{" // the last was null
	if strings.HasPrefix(options, "{") {
		obj = strings.TrimSuffix(options, "}")
		if strings.TrimSpace(obj[1:]) != "" {
			obj += ","
		}
	}
	end := bytes.LastIndexByte(body, '}') // valid: the object's own brace
	out := make([]byte, 0, len(body)+len(obj)+40)
	out = append(out, body[:end]...)
	out = append(out, `,"stream_options":`...)
	out = append(out, obj...)
	out = append(out, `"include_usage":true}}`...)
	return append(out, body[end+1:]...), nil
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

// typeError says which field has the wrong type.
func typeError(field, want string, raw string) *core.Error {
	got := jsonscan.KindOf(raw).Described()
	return invalid("invalid_type", field, fmt.Sprintf("invalid type for '%s': expected %s, got %s", field, want, got))
}

// Validate checks a chat completion request for the fields OpenAI requires.
func (Format) Validate(req *core.Request) *core.Error {
	if req.ParseErr != nil {
		var e *core.Error
		if errors.As(req.ParseErr, &e) {
			return e
		}
		return invalid("invalid_json", "", req.ParseErr.Error())
	}
	st, _ := req.State().(*parsed)
	if st == nil {
		return validateOther(req)
	}
	switch {
	case !st.hasModel || req.Model == "":
		return invalid("missing_required_parameter", "model", "you must provide a model parameter")
	case !st.hasMessages && req.Operation == OpChatCompletions:
		return invalid("missing_required_parameter", "messages", "missing required parameter: 'messages'")
	}
	return nil
}

func invalid(code, param, msg string) *core.Error {
	return &core.Error{Kind: core.KindValidation, Code: code, Param: param, Message: msg}
}
