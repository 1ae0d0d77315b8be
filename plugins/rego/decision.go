package rego

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/tidwall/sjson"

	"github.com/tollgate-dev/tollgate/plugins/rego/internal/plan"
)

// decision is what a policy decided for one call.
type decision struct {
	deny    []string
	patch   plan.Object
	headers plan.Object
}

var (
	keyDeny       = ast.StringTerm("deny")
	keyPatch      = ast.StringTerm("patch")
	keyHeadersOut = ast.StringTerm("headers")
)

// readDecision reads the decision document: {deny, patch, headers}, each
// optional. An undefined decision allows the call unchanged.
func readDecision(r *result) (decision, error) {
	var d decision
	if !r.pkg {
		if r.value == nil {
			return d, nil
		}
		if _, ok := r.value.(ast.Object); !ok {
			return d, fmt.Errorf("the decision is a %s, want an object with deny, patch and headers", ast.ValueName(r.value))
		}
	}
	obj := r
	if t := plan.ToOPA(obj.get(keyDeny)); t != nil {
		switch x := t.Value.(type) {
		case ast.Set:
			if x.Len() > 0 {
				x.Foreach(func(m *ast.Term) { d.deny = append(d.deny, message(m)) })
			}
		case *ast.Array:
			if x.Len() > 0 {
				x.Foreach(func(m *ast.Term) { d.deny = append(d.deny, message(m)) })
			}
		case ast.Boolean:
			if x {
				d.deny = []string{"denied by policy"}
			}
		case ast.String:
			d.deny = []string{string(x)}
		default:
			return d, fmt.Errorf("deny is a %s, want a set of messages", ast.ValueName(t.Value))
		}
		slices.Sort(d.deny)
	}
	if t := obj.get(keyPatch); t != nil {
		p, ok := plan.ObjectOf(t)
		if !ok {
			return d, fmt.Errorf("patch is a %s, want an object of field paths to values", ast.ValueName(t.Value))
		}
		if p.Len() > 0 {
			d.patch = p
		}
	}
	if t := obj.get(keyHeadersOut); t != nil {
		h, ok := plan.ObjectOf(t)
		if !ok {
			return d, fmt.Errorf("headers is a %s, want an object of header names to strings", ast.ValueName(t.Value))
		}
		if h.Len() > 0 {
			d.headers = h
		}
	}
	return d, nil
}

// message renders a deny entry: a string as it is, an object by its msg
// (or message) field, anything else as Rego text.
func message(t *ast.Term) string {
	switch x := t.Value.(type) {
	case ast.String:
		return string(x)
	case ast.Object:
		for _, k := range []string{"msg", "message"} {
			if m := x.Get(ast.StringTerm(k)); m != nil {
				if s, ok := m.Value.(ast.String); ok {
					return string(s)
				}
			}
		}
	}
	return t.String()
}

// applyPatch sets each patched field on the raw JSON body: keys are
// gjson/sjson paths ("max_tokens", "generationConfig.maxOutputTokens",
// "messages.1.content"), values are set as JSON; null deletes the field.
// Fields the patch does not name are left byte for byte as they were.
func applyPatch(body []byte, patch plan.Object) ([]byte, error) {
	var err error
	patch.Foreach(func(k, v *ast.Term) {
		if err != nil {
			return
		}
		path, ok := k.Value.(ast.String)
		if !ok || path == "" {
			err = fmt.Errorf("patch key %s: want a field path string like \"max_tokens\"", k)
			return
		}
		if _, null := v.Value.(ast.Null); null {
			body, err = sjson.DeleteBytes(body, string(path))
			return
		}
		var raw []byte
		raw, err = valueJSON(v.Value)
		if err != nil {
			err = fmt.Errorf("patch %s: %w", path, err)
			return
		}
		body, err = sjson.SetRawBytesOptions(body, string(path), raw, &sjson.Options{Optimistic: true})
		if err != nil {
			err = fmt.Errorf("patch %s: %w", path, err)
		}
	})
	return body, err
}

// valueJSON writes an OPA value as JSON.
func valueJSON(v ast.Value) ([]byte, error) {
	switch x := v.(type) {
	case ast.String:
		return json.Marshal(string(x))
	case ast.Number:
		return []byte(x), nil
	case ast.Boolean:
		if x {
			return []byte("true"), nil
		}
		return []byte("false"), nil
	}
	j, err := ast.JSON(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

// setHeaders adds the decision's headers to h.
func setHeaders(h http.Header, headers plan.Object) {
	if headers == nil {
		return
	}
	headers.Foreach(func(k, v *ast.Term) {
		name, ok := k.Value.(ast.String)
		if !ok {
			return
		}
		var value string
		switch x := v.Value.(type) {
		case ast.String:
			value = string(x)
		case ast.Number:
			value = string(x)
		default:
			value = v.String()
		}
		h[headerName(string(name))] = []string{value} // as h.Set, without canonicalising every call
	})
}
