package gemini

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parsed is what Parse found, kept for Validate.
type parsed struct {
	hasContents bool
}

// Parse reads the model from the path and the stream flag from the method.
// For generateContent and streamGenerateContent it checks the body is a
// JSON object with contents; other operations pass through as sent.
func (Format) Parse(req *core.Request) {
	rest, _ := cutVersion(req.Path)
	if model, _, ok := modelMethod(rest); ok {
		req.Model = model
	}
	req.Stream = req.Operation == OpStreamGenerateContent
	if req.Operation != OpGenerateContent && req.Operation != OpStreamGenerateContent {
		return
	}
	body := req.Body
	if !jsonscan.Valid(body) {
		req.ParseErr = invalid("Invalid JSON payload received. The body is not valid JSON: " + jsonscan.Why(body) + ".")
		return
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if !root.IsObject() {
		req.ParseErr = invalid("Invalid JSON payload received. Expected an object.")
		return
	}
	st := &parsed{}
	if c := root.Get("contents"); c.Exists() {
		if !c.IsArray() {
			req.ParseErr = invalid(`Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), expected a list`)
			return
		}
		st.hasContents = len(strings.TrimSpace(c.Raw)) > 2
	}
	req.SetState(st)
}

// Validate checks a generateContent body as Gemini does.
func (Format) Validate(req *core.Request) *core.Error {
	if req.ParseErr != nil {
		var e *core.Error
		if errors.As(req.ParseErr, &e) {
			return e
		}
		return invalid(req.ParseErr.Error())
	}
	st, _ := req.State().(*parsed)
	if st == nil {
		return nil
	}
	if !st.hasContents {
		return &core.Error{Kind: core.KindValidation, Code: "INVALID_ARGUMENT", Param: "contents",
			Message: "* GenerateContentRequest.contents: contents is not specified"}
	}
	return nil
}

func invalid(msg string) *core.Error {
	return &core.Error{Kind: core.KindValidation, Code: "INVALID_ARGUMENT", Message: msg}
}
