package rego

import "github.com/open-policy-agent/opa/v1/ast"

// needs records which costly parts of the input document a policy reads, so
// that a call builds only those: the parsed body, the prompt texts, the
// headers and the ledger's usage are left out of the input when no rule
// refers to them. A policy that uses input as a whole (x := input, or
// input[k] with k a variable) gets everything.
type needs struct {
	body, texts, headers, usage bool
	respBody, respText          bool
}

func allNeeds() needs { return needs{true, true, true, true, true, true} }

// analyze walks the compiled modules for references to input.
func analyze(c *ast.Compiler) needs {
	var n needs
	heads := map[*ast.Term]bool{}
	for _, m := range c.Modules {
		ast.WalkTerms(m, func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Ref:
				if len(v) > 0 && v[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
					heads[v[0]] = true
					n.add(v)
				}
			case ast.Var:
				if v.Equal(ast.InputRootDocument.Value) && !heads[t] {
					n = allNeeds()
				}
			}
			return false
		})
	}
	return n
}

// add records one reference input.a.b….
func (n *needs) add(ref ast.Ref) {
	key := func(i int) (string, bool) {
		if len(ref) <= i {
			return "", false
		}
		s, ok := ref[i].Value.(ast.String)
		return string(s), ok
	}
	top, ok := key(1)
	if !ok {
		*n = allNeeds()
		return
	}
	switch top {
	case "headers":
		n.headers = true
	case "usage":
		n.usage = true
	case "request":
		switch sub, ok := key(2); {
		case !ok:
			n.body, n.texts = true, true
		case sub == "body":
			n.body = true
		case sub == "texts":
			n.texts = true
		}
	case "response":
		switch sub, ok := key(2); {
		case !ok:
			n.respBody, n.respText = true, true
		case sub == "body":
			n.respBody = true
		case sub == "text":
			n.respText = true
		}
	}
}
