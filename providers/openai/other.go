package openai

import (
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
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
	if !gjson.ValidBytes(body) {
		req.ParseErr = invalid("invalid_json", "", "the body is not valid JSON")
		return
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if !root.IsObject() {
		req.ParseErr = invalid("invalid_json", "", "the body must be a JSON object")
		return
	}
	st := &otherParsed{}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if v.Type != gjson.String {
				req.ParseErr = typeError("model", "a string", v)
				return false
			}
			st.hasModel, req.Model = true, v.Str
		case "stream":
			if req.Operation != OpResponses {
				break
			}
			if !v.IsBool() && v.Type != gjson.Null {
				req.ParseErr = typeError("stream", "a boolean", v)
				return false
			}
			req.Stream = v.Bool()
		case "input":
			st.hasInput = v.Type != gjson.Null
		case "prompt":
			st.hasPrompt = v.IsObject()
		}
		return true
	})
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
