package rego

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/rego/internal/plan"
)

// Keys of the input document, built once.
var (
	keyPhase     = ast.StringTerm("phase")
	keyRequest   = ast.StringTerm("request")
	keyResponse  = ast.StringTerm("response")
	keyCustomer  = ast.StringTerm("customer")
	keyMetadata  = ast.StringTerm("metadata")
	keyHeaders   = ast.StringTerm("headers")
	keyUsage     = ast.StringTerm("usage")
	keyID        = ast.StringTerm("id")
	keyProvider  = ast.StringTerm("provider")
	keyOperation = ast.StringTerm("operation")
	keyModel     = ast.StringTerm("model")
	keyStream    = ast.StringTerm("stream")
	keyPath      = ast.StringTerm("path")
	keyUpstream  = ast.StringTerm("upstream")
	keyBody      = ast.StringTerm("body")
	keyTexts     = ast.StringTerm("texts")
	keyPrompt    = ast.StringTerm("prompt")
	keyRole      = ast.StringTerm("role")
	keyText      = ast.StringTerm("text")
	keyStatus    = ast.StringTerm("status")
	keyDelta     = ast.StringTerm("delta")
	keyFinal     = ast.StringTerm("final")
	keyDay       = ast.StringTerm("day")
	keyMonth     = ast.StringTerm("month")

	phaseRequest  = ast.StringTerm(PhaseRequest)
	phaseResponse = ast.StringTerm(PhaseResponse)
	redacted      = ast.StringTerm("[redacted]")
	emptyObject   = ast.NewTerm(ast.NewObject())
)

// requestItems builds the request half of the input document: everything
// but the phase. Parts and fields the policy does not read are left out.
// They are appended to items, which should have room for seven: the
// request's five, the phase and the response (see withPhase).
func (s *Stage) requestItems(ctx context.Context, req *core.Request, n needs, items [][2]*ast.Term) ([][2]*ast.Term, error) {
	provider := ""
	if req.Format != nil {
		provider = req.Format.Name()
	}
	var r [10][2]*ast.Term
	k := 0
	item := func(key, val *ast.Term) {
		r[k] = [2]*ast.Term{key, val}
		k++
	}
	f := n.fields
	if f&fID != 0 {
		item(keyID, ast.StringTerm(req.ID))
	}
	if f&fProvider != 0 {
		item(keyProvider, interned(provider))
	}
	if f&fOperation != 0 {
		item(keyOperation, interned(req.Operation))
	}
	if f&fModel != 0 {
		item(keyModel, interned(req.Model))
	}
	if f&fStream != 0 {
		item(keyStream, ast.InternedTerm(req.Stream))
	}
	if f&fPath != 0 {
		item(keyPath, interned(req.Path))
	}
	if f&fUpstream != 0 {
		upstream := ""
		if req.Upstream != nil {
			upstream = req.Upstream.Name
		}
		item(keyUpstream, interned(upstream))
	}
	var parts []textPart
	var tx *textScan // pooled: parts may be its buffer until the texts are built
	scanned := false
	if n.anyBody() && req.ParseErr == nil && len(req.Body) > 0 {
		var v ast.Value
		var err error
		if n.body {
			v, err = jsonValue(req.Body)
		} else {
			// The prompt texts are read in the same pass, for the
			// formats textScan knows.
			if n.texts || n.prompt {
				if tx = textScans.Get().(*textScan); !tx.init(provider, req.Operation) {
					textScans.Put(tx)
					tx = nil
				}
			}
			v, err = jsonFields(req.Body, n.bodyKeys, tx)
			if err == nil && tx != nil && !tx.failed {
				parts, scanned = tx.texts(), true
			}
		}
		if err == nil {
			item(keyBody, ast.NewTerm(v))
		}
	}
	if n.texts || n.prompt {
		if !scanned {
			parts = promptTexts(provider, req.Operation, req.Body)
		}
		if n.texts {
			item(keyTexts, textsTerm(parts))
		}
		if n.prompt {
			item(keyPrompt, ast.StringTerm(joinTexts(parts)))
		}
		if tx != nil {
			*tx = textScan{} // nothing of this call's body kept in the pool
			textScans.Put(tx)
		}
	}
	items = append(items, ast.Item(keyRequest, plan.NewObjectTerm(r[:k])))
	if f&fCustomer != 0 {
		items = append(items, ast.Item(keyCustomer, interned(req.Customer)))
	}
	if f&fMetadata != 0 {
		items = append(items, ast.Item(keyMetadata, metadataTerm(req.Metadata)))
	}
	if n.headers {
		items = append(items, ast.Item(keyHeaders, headersTerm(req.Header)))
	}
	if n.usage && s.spend != nil {
		u, err := s.usage.get(ctx, s.spend, req.Customer)
		if err != nil {
			return nil, err
		}
		items = append(items, ast.Item(keyUsage, u))
	}
	return items, nil
}

// textScans are the body scanners of requestItems (each ~450 bytes).
var textScans = sync.Pool{New: func() any { return new(textScan) }}

// interned returns a string term for a value that calls repeat (a model,
// a customer, a path, the provider and operation), shared between calls: terms are immutable, and a
// table of them saves each call two allocations per string. The table is
// bounded; past its size it starts over.
func interned(s string) *ast.Term {
	if t, ok := commonTerms[s]; ok {
		return t
	}
	if t, ok := internTable.get(s); ok {
		return t
	}
	if len(s) > maxInternedLen {
		return ast.StringTerm(s)
	}
	// s may point into a request's body (a role): the table keeps a copy.
	s = strings.Clone(s)
	t := ast.StringTerm(s)
	internTable.put(s, t)
	return t
}

// Bounds of the table of interned strings.
const (
	maxInterned    = 4096
	maxInternedLen = 256
)

var internTable termTable[string]

// metadataTerm returns the call's metadata as an object. The metadata
// sets callers send are few (a team, an environment), so objects of one
// entry are shared between calls like interned strings.
func metadataTerm(m map[string]string) *ast.Term {
	switch len(m) {
	case 0:
		return emptyObject
	case 1:
		var key [2]string
		for k, v := range m {
			key = [2]string{k, v}
		}
		if t, ok := metaTable.get(key); ok {
			return t
		}
		t := ast.ObjectTerm(ast.Item(interned(key[0]), interned(key[1])))
		metaTable.put(key, t)
		return t
	}
	return stringMap(m)
}

var metaTable termTable[[2]string]

// joinTexts joins the prompt texts with newlines: input.request.prompt.
func joinTexts(parts []textPart) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0].text
	}
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p.text)
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.text)
	}
	return b.String()
}

// textsTerm returns input.request.texts: an array the plan evaluator
// reads in place (plan.NewArrayTerm), converted for topdown and the log.
func textsTerm(parts []textPart) *ast.Term {
	var buf [8]*ast.Term
	terms := buf[:0]
	for _, p := range parts {
		terms = append(terms, textTerm(p))
	}
	return plan.NewArrayTerm(terms)
}

// textTerm returns one entry of input.request.texts. A chat resends its
// earlier turns and its system prompt with every call, so entries of
// short texts are shared between calls like interned strings (an entry
// is ~9 allocations to build); the table is bounded and starts over when
// full.
func textTerm(p textPart) *ast.Term {
	if len(p.text) > maxInternedText {
		return newTextTerm(p)
	}
	if t, ok := textTable.get(p); ok {
		return t
	}
	// The text and the role point into the request's body: the table keeps
	// copies of its own.
	p.text, p.role = strings.Clone(p.text), strings.Clone(p.role)
	t := newTextTerm(p)
	textTable.put(p, t)
	return t
}

func newTextTerm(p textPart) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyPath, interned(p.path)),
		ast.Item(keyRole, interned(p.role)),
		ast.Item(keyText, ast.StringTerm(p.text)),
	)
}

// maxInternedText bounds the texts whose entries are shared: the table
// holds at most maxInterned of them, ~2 MB.
const maxInternedText = 512

var textTable termTable[textPart]

func stringMap(m map[string]string) *ast.Term {
	if len(m) == 0 {
		return emptyObject
	}
	items := make([][2]*ast.Term, 0, len(m))
	for k, v := range m {
		items = append(items, ast.Item(ast.StringTerm(k), ast.StringTerm(v)))
	}
	return ast.ObjectTerm(items...)
}

// headersTerm shows the client's headers to the policy: names in lower
// case, values joined with ", ". Credentials never reach stages; values of
// other headers that may hold secrets (cookies, tokens, signatures) are
// replaced by "[redacted]".
func headersTerm(h http.Header) *ast.Term {
	if len(h) == 0 {
		return emptyObject
	}
	items := make([][2]*ast.Term, 0, len(h))
	for k, v := range h {
		name := strings.ToLower(k)
		val := redacted
		if !sensitiveHeader(name) {
			val = ast.StringTerm(strings.Join(v, ", "))
		}
		items = append(items, ast.Item(ast.StringTerm(name), val))
	}
	return ast.ObjectTerm(items...)
}

func sensitiveHeader(name string) bool {
	for _, w := range []string{"cookie", "auth", "token", "secret", "key", "password", "signature", "session"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// usageCache keeps each customer's usage as an OPA value for a short
// while, so that a busy customer's calls read the ledger once per refresh
// interval rather than once each. Budgets are approximate by that much,
// and by the time tracking takes to persist an event.
type usageCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]usageEntry
}

type usageEntry struct {
	at  time.Time
	val *ast.Term
}

// maxCachedCustomers bounds the cache; past it, it starts over.
const maxCachedCustomers = 10000

func (c *usageCache) get(ctx context.Context, sr core.SpendReader, customer string) (*ast.Term, error) {
	now := time.Now()
	c.mu.RLock()
	e, ok := c.m[customer]
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.val, nil
	}
	day, month, err := sr.Spend(ctx, customer, now)
	if err != nil {
		return nil, err
	}
	val := usageTerm(day, month)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedCustomers {
		c.m = map[string]usageEntry{}
	}
	c.m[customer] = usageEntry{at: now, val: val}
	c.mu.Unlock()
	return val, nil
}

// usageTerm builds input.usage from a customer's totals. Its objects are
// the plan evaluator's own (plan.NewObjectTerm): a budget policy looks a
// dozen keys up in them on every call, by comparing strings rather than
// hashing them; topdown and the decision log get them converted.
func usageTerm(day, month core.UsageTotals) *ast.Term {
	return plan.NewObjectTerm([][2]*ast.Term{{keyDay, totalsTerm(day)}, {keyMonth, totalsTerm(month)}})
}

func totalsTerm(t core.UsageTotals) *ast.Term {
	return plan.NewObjectTerm([][2]*ast.Term{
		ast.Item(ast.StringTerm("requests"), ast.InternedTerm(t.Requests)),
		ast.Item(ast.StringTerm("input_tokens"), ast.InternedTerm(t.InputTokens)),
		ast.Item(ast.StringTerm("output_tokens"), ast.InternedTerm(t.OutputTokens)),
		ast.Item(ast.StringTerm("total_tokens"), ast.InternedTerm(t.TotalTokens)),
		ast.Item(ast.StringTerm("cached_input_tokens"), ast.InternedTerm(t.CachedInputTokens)),
		ast.Item(ast.StringTerm("reasoning_tokens"), ast.InternedTerm(t.ReasoningTokens)),
		ast.Item(ast.StringTerm("cost_usd"), ast.NumberTerm(jsonNumber(t.Cost.String()))),
		ast.Item(ast.StringTerm("unpriced_requests"), ast.InternedTerm(t.Unpriced)),
		ast.Item(ast.StringTerm("errors"), ast.InternedTerm(t.Errors)),
	})
}

// responseTerm builds input.response.
func responseTerm(status int, stream bool, text *ast.Term, delta *ast.Term, body ast.Value, u *core.Usage, final bool) *ast.Term {
	items := make([][2]*ast.Term, 0, 7)
	items = append(items,
		ast.Item(keyStatus, ast.InternedTerm(status)),
		ast.Item(keyStream, ast.InternedTerm(stream)),
		ast.Item(keyFinal, ast.InternedTerm(final)),
	)
	if text != nil {
		items = append(items, ast.Item(keyText, text))
	}
	if delta != nil {
		items = append(items, ast.Item(keyDelta, delta))
	}
	if body != nil {
		items = append(items, ast.Item(keyBody, ast.NewTerm(body)))
	}
	if u != nil {
		items = append(items, ast.Item(keyUsage, ast.ObjectTerm(
			ast.Item(ast.StringTerm("input_tokens"), ast.InternedTerm(u.InputTokens)),
			ast.Item(ast.StringTerm("output_tokens"), ast.InternedTerm(u.OutputTokens)),
			ast.Item(ast.StringTerm("total_tokens"), ast.InternedTerm(u.InputTokens+u.OutputTokens)),
		)))
	}
	return ast.ObjectTerm(items...)
}

// withPhase returns the input document for a phase over the request items.
// It appends to items in place: the object copies the pairs, so the same
// items serve the request phase and then each response check in turn.
// The document and input.request are objects the plan evaluator reads in
// place (plan.NewObject): topdown and the decision log get them as OPA's
// (plan.ToOPA).
// maxItems is how many pairs the input document has at most: request,
// customer, metadata, headers, usage, phase and response.
const maxItems = 7

func withPhase(items [][2]*ast.Term, phase *ast.Term, resp *ast.Term) ast.Value {
	all := append(items, ast.Item(keyPhase, phase))
	if resp != nil {
		all = append(all, ast.Item(keyResponse, resp))
	}
	return plan.NewObject(all)
}
