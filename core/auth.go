package core

import (
	"context"
	"path"
	"strings"
)

// Authenticator checks the credential a client sent to the gateway — a
// tollgate virtual key, never a provider key — and says whom it belongs to.
// It must be safe for concurrent use and fast: it runs on every call.
type Authenticator interface {
	// Authenticate returns the key's principal, or an error (an [*Error] of
	// kind auth, answered with 401 in the provider's error shape) when the
	// credential is missing, unknown or revoked. credential is "" when the
	// client sent none.
	Authenticate(ctx context.Context, credential string) (*Principal, error)
}

// Principal is whom a virtual key belongs to: a customer or a team, with
// what it may call and its limits. The engine bills the call to Customer
// (over any customer header) and merges Metadata into the call's metadata.
type Principal struct {
	// KeyID is the key's public id (never the key itself).
	KeyID string `json:"key_id"`
	// Name is the key's label.
	Name string `json:"name,omitempty"`
	// Customer is who calls made with the key are billed to; empty leaves
	// the customer to the customer header.
	Customer string `json:"customer,omitempty"`
	// Team is the team the key belongs to, if any.
	Team string `json:"team,omitempty"`
	// Models lists the model names or patterns (path.Match syntax) the key
	// may call; empty allows every model.
	Models []string `json:"models,omitempty"`
	// Limits are the key's own limits. The ratelimit built-in enforces them
	// (its key_limits setting, on by default): requests and tokens per
	// minute counted per key, and the monthly budget; without a ratelimit
	// stage in the pipeline nothing does, and the host warns at start.
	Limits Limits `json:"limits"`
	// Metadata is copied into every usage event of the key's calls.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Limits are a virtual key's limits; zero means none.
type Limits struct {
	// RequestsPerMinute and TokensPerMinute count the key's own calls,
	// whatever customer they are billed to.
	RequestsPerMinute int64 `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int64 `json:"tokens_per_minute,omitempty"`
	// MonthlyBudget caps spend per calendar month (UTC): once the spend of
	// the key's customer this month (as the usage ledger or the Redis spend
	// counters count it, at the track stage's prices) reaches it, the key's
	// calls are refused. Keys of one customer share that spend.
	MonthlyBudget USD `json:"monthly_budget,omitempty"`
}

// AllowsModel reports whether the key may call model.
func (p *Principal) AllowsModel(model string) bool {
	if len(p.Models) == 0 {
		return true
	}
	for _, m := range p.Models {
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}

// WithAuthenticator makes every call that comes in over HTTP (the
// [Engine.Handler]) present a credential that a checks: the bearer token,
// x-api-key, x-goog-api-key header or ?key= parameter a provider SDK sends
// its API key in. Calls made with [Engine.Do] and through [Engine.Transport]
// are the embedding program's own and are not checked.
func WithAuthenticator(a Authenticator) Option { return func(e *Engine) { e.auth = a } }

// authenticate checks the client's credential and applies its principal.
func (e *Engine) authenticate(ctx context.Context, req *Request, a *attribution, queryKey string) error {
	p, err := e.auth.Authenticate(ctx, a.credential(queryKey))
	if err != nil {
		return err
	}
	if p == nil {
		return &Error{Kind: KindAuth, Code: "invalid_api_key", Message: "the API key is not valid for this gateway"}
	}
	req.Principal = p
	if p.Customer != "" {
		a.customer = p.Customer
	}
	if len(p.Metadata) > 0 {
		a.metadata = mergeMetadata(a.metadata, p.Metadata)
	}
	return nil
}

// checkModel refuses a model the call's key may not use.
func checkModel(req *Request) error {
	if p := req.Principal; p != nil && req.Model != "" && !p.AllowsModel(req.Model) {
		return &Error{Kind: KindDenied, Code: "model_not_allowed", Param: "model",
			Message: "this API key may not call model " + req.Model}
	}
	return nil
}

// credential is the key the client sent, from the first credential header
// that holds one, else the query.
func (a *attribution) credential(queryKey string) string {
	if v := a.credentials[0]; v != "" { // Authorization
		if tok, ok := cutBearer(v); ok {
			return tok
		}
		return v
	}
	for _, v := range a.credentials[1:] {
		if v != "" {
			return v
		}
	}
	return queryKey
}

func cutBearer(v string) (string, bool) {
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}
