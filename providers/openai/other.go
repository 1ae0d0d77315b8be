package openai

import (
	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// otherParsed is what parseOther found in an embeddings or responses body.
type otherParsed struct {
	hasModel, hasInput, hasPrompt bool
}

// parseOther reads embeddings and responses bodies, and the model of a
// passed-through JSON body if it names one. A passed-through body that is
// not JSON (a file upload) is left alone.
func parseOther(req *core.Request) {
	body := req.Body
	if !metered(req.Operation) {
		if len(body) > 0 && body[0] == '{' {
			req.Model = gjson.GetBytes(body, "model").Str
		}
		return
	}
	if !jsonscan.Valid(body) {
		req.ParseErr = invalid("invalid_json", "", "the body is not valid JSON: "+jsonscan.Why(body))
		return
	}
	st := &otherParsed{}
	if !jsonscan.Fields(str(body), func(k, v string) {
		if req.ParseErr != nil {
			return // the first error is the one reported
		}
		switch k {
		case "model":
			m, ok := jsonscan.Unquote(v)
			if !ok {
				req.ParseErr = typeError("model", "a string", v)
				return
			}
			st.hasModel, req.Model = true, m
		case "stream":
			if req.Operation != OpResponses {
				break
			}
			if kind := jsonscan.KindOf(v); kind != jsonscan.Bool && kind != jsonscan.Null {
				req.ParseErr = typeError("stream", "a boolean", v)
				return
			}
			req.Stream = v == "true"
		case "input":
			st.hasInput = v != "null"
		case "prompt":
			st.hasPrompt = jsonscan.KindOf(v) == jsonscan.Object
		}
	}) {
		req.ParseErr = invalid("invalid_json", "", "the body must be a JSON object")
		return
	}
	req.SetState(st)
}

// validateOther checks embeddings and responses bodies for the fields
// OpenAI requires.
func validateOther(req *core.Request) *core.Error {
	st, _ := req.State().(*otherParsed)
	if st == nil {
		return nil
	}
	switch req.Operation {
	case OpEmbeddings:
		switch {
		case !st.hasModel || req.Model == "":
			return invalid("missing_required_parameter", "model", "you must provide a model parameter")
		case !st.hasInput:
			return invalid("missing_required_parameter", "input", "missing required parameter: 'input'")
		}
	case OpResponses:
		if (!st.hasModel || req.Model == "") && !st.hasPrompt {
			return invalid("missing_required_parameter", "model", "missing required parameter: 'model'")
		}
	}
	return nil
}
