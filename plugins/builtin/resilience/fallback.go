package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// FallbackConfig configures the fallback stage.
type FallbackConfig struct {
	// Targets are tried in order after the call's own upstream fails.
	Targets []Target `json:"targets"`
	// On lists the upstream statuses that move on to the next target
	// (default 429, 500, 502, 503, 504, 529). Connection failures,
	// timeouts, an open breaker and exhausted retries always do.
	On []int `json:"on"`
}

// Target is one place to try: an upstream, and optionally another model
// on it. In the config it is {upstream: NAME, model: MODEL}, or just the
// upstream's name.
type Target struct {
	Upstream string `json:"upstream"`
	Model    string `json:"model"`
}

// UnmarshalJSON reads a target from an object or a bare upstream name.
func (t *Target) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Upstream)
	}
	type plain Target
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(t))
}

// Fallback answers a call that failed for good on its upstream from the
// next target that speaks the same wire format: another upstream, another
// model, or both. A failure is the upstream's (see On), never the
// request's: a 400 is returned as is. Targets of another format, and the
// one the call already tried, are skipped. The usage event names the
// upstream and model that answered; each target tried after the first adds
// one to retry_count. Safe for concurrent use.
type Fallback struct {
	targets []resolved
	on      []int
	log     *slog.Logger
}

type resolved struct {
	up    *core.Upstream
	model string
}

func newFallback(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := FallbackConfig{On: DefaultRetryStatuses}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("%s: config: targets: list at least one upstream to fall back to, e.g. [{upstream: azure-eu}, {upstream: openai, model: gpt-4o-mini}]", s.Path())
	}
	var errs []error
	f := &Fallback{on: cfg.On, log: env.Log}
	if f.log == nil {
		f.log = slog.Default()
	}
	for i, t := range cfg.Targets {
		u, ok := env.Upstreams[t.Upstream]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: config: targets[%d]: upstream %q is not configured (configured: %s)", s.Path(), i, t.Upstream, names(env.Upstreams)))
			continue
		}
		f.targets = append(f.targets, resolved{up: u, model: t.Model})
	}
	return f, errors.Join(errs...)
}

func names(m map[string]*core.Upstream) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(sortStrings(out), ", ")
}

// Handle calls next, and on a failure of the upstream, next again for each
// target in turn until one answers.
func (f *Fallback) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	resp, err := next(ctx, req)
	if err == nil || !f.failover(ctx, err) {
		return resp, err
	}
	drop(resp)
	first, firstModel, firstBody, firstPath := req.Upstream, req.Model, req.Body, req.Path
	for _, t := range f.targets {
		if t.up.Format != req.Format.Name() || t.up == first && (t.model == "" || t.model == firstModel) {
			continue
		}
		from := upstreamName(req) + " (" + req.Model + ")"
		req.Upstream = t.up
		if t.model != "" && t.model != req.Model {
			setModel(req, firstModel, t.model, firstBody, firstPath)
		} else if req.Model != firstModel {
			req.Model, req.Path = firstModel, firstPath
			req.SetBody(firstBody)
		}
		f.log.Warn("falling back to another upstream", "id", req.ID, "from", from, "to", t.up.Name, "model", req.Model, "err", err)
		req.Retries++
		resp, err = next(ctx, req)
		if err == nil || !f.failover(ctx, err) {
			return resp, err
		}
		drop(resp)
	}
	return nil, err
}

// failover reports whether err should move the call to the next target.
func (f *Fallback) failover(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *core.Error
	if errors.As(err, &e) && (e.Kind == core.KindCircuitOpen || e.Kind == core.KindRetriesExhausted) {
		return true
	}
	return upstreamFailure(err, f.on)
}

// setModel points the call at another model: the body's model field, or
// for a format that names the model in the path (Gemini's
// models/NAME:generateContent), the path.
func setModel(req *core.Request, old, model string, body []byte, path string) {
	req.Model = model
	if gjson.GetBytes(body, "model").Exists() {
		if b, err := sjson.SetBytes(bytes.Clone(body), "model", model); err == nil {
			req.SetBody(b)
		}
		req.Path = path
		return
	}
	req.SetBody(body)
	req.Path = strings.Replace(path, "models/"+old+":", "models/"+model+":", 1)
}

var _ core.Stage = (*Fallback)(nil)
