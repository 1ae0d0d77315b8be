package rego

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/pipeline"
)

// Phases a stage checks.
const (
	PhaseRequest  = "request"
	PhaseResponse = "response"
	PhaseBoth     = "both"
)

// Stream modes of the response phase.
const (
	// StreamEvent checks the answer as each event passes and cuts the
	// stream at the first denial; what was sent before stays sent.
	StreamEvent = "event"
	// StreamHold holds the whole stream, checks the complete answer, then
	// releases it: nothing unchecked reaches the client, and the client
	// waits for the whole generation before its first byte.
	StreamHold = "hold"
)

// Default queries.
const (
	DefaultRequestQuery  = "data.tollgate.request"
	DefaultResponseQuery = "data.tollgate.response"
)

// Config configures a rego stage: the `config:` keys of a pipeline entry of
// kind rego.
type Config struct {
	// Paths are .rego files, directories (walked, _test.rego files left
	// out) and OPA bundle directories (holding a .manifest). data.json and
	// data.yaml files beside the policies are loaded as data.
	Paths []string `json:"paths"`
	// Phase is request (default), response, or both.
	Phase string `json:"phase"`
	// Query is the decision's query: for phase request or response, that
	// phase's; for both, the request phase's. Default data.tollgate.request
	// (data.tollgate.response for phase response).
	Query string `json:"query"`
	// ResponseQuery is the response phase's query with phase both.
	ResponseQuery string `json:"response_query"`
	// Data is merged into the data document under data (per-team
	// allow-lists, budgets): {tollgate: {budgets: {...}}}.
	Data map[string]any `json:"data"`
	// AllowNetwork makes http.send, net.* and the other network built-ins
	// available. Off by default: a policy using them fails to compile.
	AllowNetwork bool `json:"allow_network"`
	// EvalTimeout bounds one evaluation (default 1s). A policy that runs
	// longer fails the stage, which then follows on_error.
	EvalTimeout pipeline.Duration `json:"eval_timeout"`
	// StreamMode is how the response phase checks a stream: event
	// (default) or hold.
	StreamMode string `json:"stream_mode"`
	// StreamWindow is how much of the answer, in bytes, event mode shows
	// the policy as input.response.text: the tail of the text so far,
	// including the new event (default 1024). The whole text is checked
	// in hold mode.
	StreamWindow int `json:"stream_window"`
	// Reload watches the policy files and swaps in a changed policy once it
	// compiles (default true).
	Reload *bool `json:"reload"`
	// ReloadInterval is how often the files are checked (default 1s).
	ReloadInterval pipeline.Duration `json:"reload_interval"`
	// UsageRefresh is how long a customer's usage read from the ledger is
	// reused for input.usage (default 1s).
	UsageRefresh pipeline.Duration `json:"usage_refresh"`
	// DecisionCache reuses a request decision for later calls alike in
	// everything the policies read, when the policies read only small
	// fields (model, customer, metadata, provider, operation, body fields
	// by name) and call only deterministic built-ins (default true). See
	// docs/policies.md.
	DecisionCache *bool `json:"decision_cache"`
	// DecisionLog, if set, records each decision.
	DecisionLog *DecisionLogConfig `json:"decision_log"`
}

// DecisionLogConfig configures decision logs.
type DecisionLogConfig struct {
	// Sink names a sink of the tracking outbox to deliver decisions to
	// (the destination "sink:NAME").
	Sink string `json:"sink"`
	// Path appends each decision to a JSON Lines file (created with its
	// directory).
	Path string `json:"path"`
	// Console writes each decision to the process log.
	Console bool `json:"console"`
	// Mask lists input fields to erase before a decision is logged, as
	// slash paths ("/input/request/body"). Default: the prompt and answer
	// bodies and texts, so no prompt text is logged unless asked for; an
	// empty list logs the whole input.
	Mask *[]string `json:"mask"`
	// DeniedOnly logs only decisions that denied.
	DeniedOnly bool `json:"denied_only"`
	// Buffer is how many decisions may wait for delivery (default 4096);
	// past it decisions are dropped and counted, never blocking a call.
	Buffer int `json:"buffer"`
}

// defaultMask erases prompt and answer text from decision logs.
var defaultMask = []string{"/input/request/body", "/input/request/texts", "/input/response/body", "/input/response/text"}

// logsBody reports whether decisions are logged with the request body: a
// decision log whose mask does not erase it.
func (c *Config) logsBody() bool {
	d := c.DecisionLog
	if d == nil || d.Mask == nil {
		return false
	}
	for _, p := range *d.Mask {
		if p == "/input" || p == "/input/request" || p == "/input/request/body" {
			return false
		}
	}
	return true
}

// withDefaults fills in defaults and checks the values.
func (c *Config) withDefaults() error {
	if len(c.Paths) == 0 {
		return fmt.Errorf("paths: at least one .rego file, directory or bundle directory is required, e.g. [policies/guardrails]")
	}
	switch c.Phase {
	case "":
		c.Phase = PhaseRequest
	case PhaseRequest, PhaseResponse, PhaseBoth:
	default:
		return fmt.Errorf("phase: want request, response or both, got %q", c.Phase)
	}
	if c.ResponseQuery != "" && c.Phase != PhaseBoth {
		return fmt.Errorf("response_query: only used with phase both; with phase %s, set query", c.Phase)
	}
	if c.Phase == PhaseResponse && c.Query != "" {
		c.ResponseQuery, c.Query = c.Query, ""
	}
	if c.Phase != PhaseResponse && c.Query == "" {
		c.Query = DefaultRequestQuery
	}
	if c.Phase != PhaseRequest && c.ResponseQuery == "" {
		c.ResponseQuery = DefaultResponseQuery
	}
	switch c.StreamMode {
	case "":
		c.StreamMode = StreamEvent
	case StreamEvent, StreamHold:
	default:
		return fmt.Errorf("stream_mode: want event or hold, got %q", c.StreamMode)
	}
	if c.StreamWindow == 0 {
		c.StreamWindow = 1024
	}
	if c.StreamWindow < 0 {
		return fmt.Errorf("stream_window: must be positive")
	}
	if c.EvalTimeout == 0 {
		c.EvalTimeout = pipeline.Duration(time.Second)
	}
	if c.Reload == nil {
		t := true
		c.Reload = &t
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = pipeline.Duration(time.Second)
	}
	if c.DecisionCache == nil {
		t := true
		c.DecisionCache = &t
	}
	if c.UsageRefresh == 0 {
		c.UsageRefresh = pipeline.Duration(time.Second)
	}
	if d := c.DecisionLog; d != nil {
		if d.Sink == "" && d.Path == "" && !d.Console {
			return fmt.Errorf("decision_log: set sink (a tracking sink's name), path (a JSON Lines file) or console: true")
		}
		if d.Mask == nil {
			m := defaultMask
			d.Mask = &m
		}
		for i, p := range *d.Mask {
			if len(p) < 2 || p[0] != '/' {
				return fmt.Errorf("decision_log.mask[%d]: want a slash path like /input/request/body, got %q", i, p)
			}
		}
		if d.Buffer == 0 {
			d.Buffer = 4096
		}
	}
	return nil
}
