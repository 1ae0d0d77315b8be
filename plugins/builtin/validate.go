package builtin

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// ValidateConfig configures the validate stage.
type ValidateConfig struct {
	// MaxBodyBytes refuses larger request bodies with a 413 (default 10 MiB).
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// Models, if set, is the allow-list of models; entries may use path.Match
	// patterns such as "gpt-4o*".
	Models []string `json:"models"`
}

// Validate refuses malformed calls before they cost anything: a body that is
// not well-formed JSON or lacks the operation's required fields (400), a body
// over the size limit (413), a model outside the allow-list (400). Errors
// come back in the provider's own shape. Safe for concurrent use.
type Validate struct {
	maxBody int64
	models  []string
}

func newValidate(s pipeline.Spec, _ pipeline.Env) (any, error) {
	cfg := ValidateConfig{MaxBodyBytes: 10 << 20}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	v, err := NewValidate(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", s.Path(), err)
	}
	return v, nil
}

// NewValidate returns a validate stage.
func NewValidate(cfg ValidateConfig) (*Validate, error) {
	if cfg.MaxBodyBytes <= 0 {
		return nil, fmt.Errorf("max_body_bytes: must be positive")
	}
	for i, m := range cfg.Models {
		if _, err := path.Match(m, ""); err != nil {
			return nil, fmt.Errorf("models[%d]: bad pattern %q: %v", i, m, err)
		}
	}
	return &Validate{maxBody: cfg.MaxBodyBytes, models: cfg.Models}, nil
}

// Handle checks the request and calls next only if it is well-formed.
func (v *Validate) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	if int64(len(req.Body)) > v.maxBody {
		return nil, core.Errorf(core.KindTooLarge, "request_too_large",
			"the request body is %d bytes, over the limit of %d", len(req.Body), v.maxBody)
	}
	if err := req.Format.Validate(req); err != nil {
		return nil, err
	}
	if len(v.models) > 0 && !v.allowed(req.Model) {
		return nil, &core.Error{Kind: core.KindValidation, Code: "model_not_allowed", Param: "model",
			Message: fmt.Sprintf("model %q is not allowed here; allowed models: %s", req.Model, strings.Join(v.models, ", "))}
	}
	return next(ctx, req)
}

func (v *Validate) allowed(model string) bool {
	for _, m := range v.models {
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}

var _ core.Stage = (*Validate)(nil)
