package rego

import (
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// decisionCache reuses request decisions of a policy whose decision is a
// function of a few small fields of the input: when the rules a query can
// reach read only fields such as input.request.model, input.customer,
// input.metadata.team and body fields by name (input.request.body.max_tokens),
// refer to input only by such fixed paths, and call only deterministic
// built-ins, two calls that agree on those fields get the same decision
// from the same policies and data. A call whose fields were decided before
// is answered from the cache without evaluating; the model allow-list and
// the max_tokens cap are such policies, a prompt scan or a budget (which
// read the texts and the ledger) are not, and are always evaluated.
//
// A cache belongs to one compiled generation (a reload starts a new one,
// as the data may have changed) and holds at most maxCachedDecisions
// decisions; past that it starts over. It is safe for concurrent use.
type decisionCache struct {
	paths []ast.Ref // the fields read, as paths below input: [request model]
	mu    sync.RWMutex
	m     map[uint64]*cachedDecision
}

type cachedDecision struct {
	key [maxKeyFields]ast.Value
	res result
	d   decision
}

const (
	maxCachedDecisions = 4096
	// maxKeyFields bounds how many fields a cacheable policy reads.
	maxKeyFields = 8
	// maxKeyString bounds a string field's length for the call to be
	// cached; a longer value (a policy reading a prompt field by name) is
	// evaluated every time.
	maxKeyString = 256
)

// smallFields are the input fields a cache key may hold: below input,
// the first element, and for request the second. Fields that differ on
// every call (request.id), large ones (texts, prompt, a whole body) and
// changing ones (usage) are not among them: a policy reading them is not
// cached.
var smallFields = map[string]map[string]bool{
	"phase":    nil,
	"customer": nil,
	"metadata": nil,
	"request":  {"provider": true, "operation": true, "model": true, "stream": true, "path": true, "upstream": true, "body": true},
}

// timeDependent are prefixes of deterministic-looking built-ins whose
// result depends on the clock (a token's or certificate's expiry checked
// against now, with or without options).
var timeDependent = []string{"io.jwt.decode_verify", "crypto.x509.parse_and_verify_certificates"}

// newDecisionCache returns a cache for a request query when its decision
// can be cached (see decisionCache), else nil.
func newDecisionCache(c *ast.Compiler, query string) *decisionCache {
	paths, ok := cacheKeyPaths(c, query)
	if !ok {
		return nil
	}
	return &decisionCache{paths: paths, m: map[uint64]*cachedDecision{}}
}

// cacheKeyPaths returns the input fields the rules a query reaches read,
// and whether the query's decision is a function of them alone.
func cacheKeyPaths(c *ast.Compiler, query string) ([]ast.Ref, bool) {
	ok := true
	var paths []ast.Ref
	builtins := map[string]*ast.Builtin{}
	for _, b := range c.Capabilities().Builtins {
		builtins[b.Name] = b
	}
	for _, r := range reachable(c, []string{query}) {
		for node := r; node != nil && ok; node = node.Else {
			ast.WalkExprs(node, func(e *ast.Expr) bool {
				if len(e.With) > 0 {
					ok = false // with input… / with data… replace documents
				}
				return !ok
			})
			heads := map[*ast.Term]bool{}
			ast.WalkTerms(node, func(t *ast.Term) bool {
				if !ok {
					return true
				}
				switch v := t.Value.(type) {
				case ast.Ref:
					if v[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
						heads[v[0]] = true
						path, fixed := fixedPath(v[1:])
						if !fixed || !small(path) {
							ok = false
						}
						paths = append(paths, path)
						return false
					}
					if b := builtins[v.String()]; b != nil && !deterministic(b) {
						ok = false
					}
				case ast.Var:
					if v.Equal(ast.InputRootDocument.Value) && !heads[t] {
						ok = false // input as a whole
					}
				}
				return false
			})
		}
	}
	if !ok {
		return nil, false
	}
	paths = outermost(paths)
	return paths, len(paths) <= maxKeyFields
}

// fixedPath copies a path below input and reports whether each of its
// elements is a string: input.request.model is, input[k] is not.
func fixedPath(p ast.Ref) (ast.Ref, bool) {
	out := make(ast.Ref, len(p))
	for i, t := range p {
		if _, ok := t.Value.(ast.String); !ok {
			return nil, false
		}
		out[i] = t
	}
	return out, len(p) > 0
}

// small reports whether a path below input is one of the small fields.
func small(p ast.Ref) bool {
	top := string(p[0].Value.(ast.String))
	subs, ok := smallFields[top]
	if !ok {
		return false
	}
	if subs == nil {
		return true
	}
	if len(p) < 2 {
		return false // input.request as a whole
	}
	sub := string(p[1].Value.(ast.String))
	return subs[sub] && (sub != "body" || len(p) > 2)
}

func deterministic(b *ast.Builtin) bool {
	if b.Nondeterministic {
		return false
	}
	for _, prefix := range timeDependent {
		if strings.HasPrefix(b.Name, prefix) {
			return false
		}
	}
	return true
}

// outermost drops duplicate paths and those below another (input.metadata
// covers input.metadata.team), in a stable order.
func outermost(paths []ast.Ref) []ast.Ref {
	var out []ast.Ref
next:
	for i, p := range paths {
		for j, q := range paths {
			if i != j && len(q) < len(p) && p.HasPrefix(q) {
				continue next
			}
		}
		for _, q := range out {
			if q.Equal(p) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// key reads a call's values of the cached fields from its input and hashes
// them; ok is false when a value is not a small scalar, and the call is
// then evaluated.
func (dc *decisionCache) key(in ast.Value, vals *[maxKeyFields]ast.Value) (h uint64, ok bool) {
	h = 14695981039346656037
	for i, p := range dc.paths {
		v, err := in.Find(p)
		if err != nil {
			v = nil // absent
		}
		var x uint64
		switch s := v.(type) {
		case nil:
			x = 1
		case ast.String:
			if len(s) > maxKeyString {
				return 0, false
			}
			x = uint64(s.Hash())
		case ast.Number, ast.Boolean, ast.Null:
			x = uint64(v.Hash())
		default:
			return 0, false // an object or array where a scalar is expected
		}
		vals[i] = v
		h = (h ^ x) * 1099511628211
	}
	return h, true
}

// get returns the decision cached for a key, or nil.
func (dc *decisionCache) get(h uint64, vals *[maxKeyFields]ast.Value) *cachedDecision {
	dc.mu.RLock()
	c := dc.m[h]
	dc.mu.RUnlock()
	if c == nil {
		return nil
	}
	for i := range dc.paths {
		a, b := c.key[i], vals[i]
		if (a == nil) != (b == nil) || a != nil && a.Compare(b) != 0 {
			return nil // a hash collision: evaluate
		}
	}
	return c
}

// put caches a decision.
func (dc *decisionCache) put(h uint64, vals *[maxKeyFields]ast.Value, res result, d decision) {
	c := &cachedDecision{key: *vals, res: res, d: d}
	dc.mu.Lock()
	if len(dc.m) >= maxCachedDecisions {
		dc.m = make(map[uint64]*cachedDecision, maxCachedDecisions)
	}
	dc.m[h] = c
	dc.mu.Unlock()
}
