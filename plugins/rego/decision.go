package rego

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"unsafe"

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
		deny, err := denyMessages(t)
		if err != nil {
			return d, err
		}
		slices.Sort(deny)
		d.deny = deny
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

// denyMessages reads deny: a set or array of messages, a boolean or a
// string. It is apart from readDecision so that the closures collecting
// the messages take their slice to the heap only when there are some,
// not the whole decision on every call.
func denyMessages(t *ast.Term) ([]string, error) {
	switch x := t.Value.(type) {
	case ast.Set:
		if x.Len() > 0 {
			out := make([]string, 0, x.Len())
			x.Foreach(func(m *ast.Term) { out = append(out, message(m)) })
			return out, nil
		}
	case *ast.Array:
		if x.Len() > 0 {
			out := make([]string, 0, x.Len())
			x.Foreach(func(m *ast.Term) { out = append(out, message(m)) })
			return out, nil
		}
	case ast.Boolean:
		if x {
			return []string{"denied by policy"}, nil
		}
	case ast.String:
		return []string{string(x)}, nil
	default:
		return nil, fmt.Errorf("deny is a %s, want a set of messages", ast.ValueName(t.Value))
	}
	return nil, nil
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
	var buf [8][2]*ast.Term
	for _, p := range plan.AppendPairs(buf[:0], patch) {
		k, v := p[0], p[1]
		path, ok := k.Value.(ast.String)
		if !ok || path == "" {
			return body, fmt.Errorf("patch key %s: want a field path string like \"max_tokens\"", k)
		}
		var err error
		if _, null := v.Value.(ast.Null); null {
			if body, err = sjson.DeleteBytes(body, string(path)); err != nil {
				return body, err
			}
			continue
		}
		raw, err := valueJSON(v.Value)
		if err != nil {
			return body, fmt.Errorf("patch %s: %w", path, err)
		}
		if body, err = sjson.SetRawBytesOptions(body, string(path), raw, &sjson.Options{Optimistic: true}); err != nil {
			return body, fmt.Errorf("patch %s: %w", path, err)
		}
	}
	return body, nil
}

// valueJSON writes an OPA value as JSON.
func valueJSON(v ast.Value) ([]byte, error) {
	switch x := v.(type) {
	case ast.String:
		return json.Marshal(string(x))
	case ast.Number:
		// The number's own bytes, not a copy: sjson copies the value into
		// the body it builds and keeps nothing.
		return unsafe.Slice(unsafe.StringData(string(x)), len(x)), nil
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
	var buf [8][2]*ast.Term
	for _, p := range plan.AppendPairs(buf[:0], headers) {
		k, v := p[0], p[1]
		name, ok := k.Value.(ast.String)
		if !ok {
			continue
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
	}
}
