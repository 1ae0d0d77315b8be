package rego

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// needs records which costly parts of the input document a stage's queries
// read, so that a call builds only those: the parsed body (or only the
// top-level fields of it that are read), the prompt texts, the headers and
// the ledger's usage are left out of the input when no rule the queries can
// reach refers to them. A policy that uses input as a whole (x := input, or
// input[k] with k a variable) gets everything.
type needs struct {
	// fields are the small fields of input.request and the top level that
	// rules read (input.request.model, input.customer, …); the others are
	// left out.
	fields field
	// body is the whole parsed body; without it, bodyKeys are the top-level
	// fields of the body that rules read by name (input.request.body.model),
	// and only those are parsed.
	body     bool
	bodyKeys []string
	texts    bool
	prompt   bool
	headers  bool
	usage    bool
	respBody bool
	respText bool
}

// field is a set of the input's small fields.
type field uint16

// The input's small fields.
const (
	fID field = 1 << iota
	fProvider
	fOperation
	fModel
	fStream
	fPath
	fUpstream
	fCustomer
	fMetadata

	allFields = fID | fProvider | fOperation | fModel | fStream | fPath | fUpstream | fCustomer | fMetadata
)

// requestFields are the small fields of input.request, by name.
var requestFields = map[string]field{
	"id": fID, "provider": fProvider, "operation": fOperation, "model": fModel,
	"stream": fStream, "path": fPath, "upstream": fUpstream,
}

func allNeeds() needs {
	return needs{fields: allFields, body: true, texts: true, prompt: true, headers: true, usage: true, respBody: true, respText: true}
}

// anyBody reports whether the input holds a body at all.
func (n *needs) anyBody() bool { return n.body || len(n.bodyKeys) > 0 }

// analyze finds what of the input the queries can read: it walks the rules
// each query reaches, directly or through other rules and functions, for
// references to input. Rules no query reaches (another guardrail's, when
// the query names one package) are not counted. A query that is not a
// reference (or a rule that refers to data in a way the compiler cannot
// resolve) falls back to every rule.
func analyze(c *ast.Compiler, queries ...string) needs {
	rules := reachable(c, queries)
	var n needs
	for _, r := range rules {
		n.addRule(r)
	}
	if n.body {
		n.bodyKeys = nil
	}
	slices.Sort(n.bodyKeys)
	n.bodyKeys = slices.Compact(n.bodyKeys)
	return n
}

// reachable returns the rules the queries can evaluate. The walk is
// conservative: a reference with a variable (data.tollgate.guardrails[x])
// reaches every rule it could select.
func reachable(c *ast.Compiler, queries []string) []*ast.Rule {
	seen := map[*ast.Rule]bool{}
	var out, queue []*ast.Rule
	add := func(rs []*ast.Rule) {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
	}
	all := func() {
		for _, m := range c.Modules {
			for _, r := range m.Rules {
				add([]*ast.Rule{r})
			}
		}
	}
	refRules := func(ref ast.Ref) []*ast.Rule {
		return c.GetRulesDynamicWithOpts(ref, ast.RulesOptions{IncludeHiddenModules: true})
	}
	for _, q := range queries {
		if q == "" {
			continue
		}
		ref, err := ast.ParseRef(q)
		if err != nil || !ref.HasPrefix(ast.DefaultRootRef) {
			all()
			continue
		}
		add(refRules(ref))
	}
	for len(queue) > 0 {
		r := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		out = append(out, r)
		for node := r; node != nil; node = node.Else {
			heads := map[*ast.Term]bool{}
			ast.WalkTerms(node, func(t *ast.Term) bool {
				switch v := t.Value.(type) {
				case ast.Ref:
					if v.HasPrefix(ast.DefaultRootRef) {
						heads[v[0]] = true
						add(refRules(v))
					}
				case ast.Var:
					if v.Equal(ast.DefaultRootDocument.Value) && !heads[t] {
						all() // data as a whole
					}
				}
				return false
			})
		}
	}
	return out
}

// addRule records the references to input of one rule (and its else
// chain).
func (n *needs) addRule(r *ast.Rule) {
	for node := r; node != nil; node = node.Else {
		heads := map[*ast.Term]bool{}
		ast.WalkTerms(node, func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Ref:
				if len(v) > 0 && v[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
					heads[v[0]] = true
					n.add(v)
				}
			case ast.Var:
				if v.Equal(ast.InputRootDocument.Value) && !heads[t] {
					*n = allNeeds()
				}
			}
			return false
		})
	}
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
	case "customer":
		n.fields |= fCustomer
	case "metadata":
		n.fields |= fMetadata
	case "headers":
		n.headers = true
	case "usage":
		n.usage = true
	case "request":
		switch sub, ok := key(2); {
		case !ok:
			n.body, n.texts, n.prompt = true, true, true
			n.fields |= fID | fProvider | fOperation | fModel | fStream | fPath | fUpstream
		case requestFields[sub] != 0:
			n.fields |= requestFields[sub]
		case sub == "body":
			if k, ok := key(3); ok {
				n.bodyKeys = append(n.bodyKeys, k)
			} else {
				n.body = true
			}
		case sub == "texts":
			n.texts = true
		case sub == "prompt":
			n.prompt = true
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
