package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// OnError values: what a stage's own failure (an error, a timeout, a panic)
// does to the call.
const (
	FailOpen   = "fail_open"   // skip the stage and go on
	FailClosed = "fail_closed" // fail the call
)

// Spec is one entry of the config's pipeline list.
type Spec struct {
	Name    string
	Kind    string
	Config  map[string]any
	OnError string
	Timeout time.Duration
	// Index is the entry's position in the list, for error messages.
	Index int
}

// Path names the entry in error messages, e.g. `pipeline[2] (guardrails)`.
func (s Spec) Path() string { return fmt.Sprintf("pipeline[%d] (%s)", s.Index, s.Name) }

// Env is what stages may use when they are built.
type Env struct {
	Log *slog.Logger
	// DataDir holds embedded state (outbox, caches).
	DataDir string
	// Upstreams are the configured upstreams, by name.
	Upstreams map[string]*core.Upstream
	// Deliverer, if set, is where plugins hand outbound payloads (the
	// durable outbox); plugin hosts fall back to their own path without it.
	Deliverer core.Deliverer
	// Spend, if set, reports what each customer has used so far (the usage
	// ledger); budget policies read it.
	Spend core.SpendReader
	// Lookup, if set, reads an environment variable the config names (the
	// process environment and the .env file), e.g. a tracker token_env.
	Lookup func(name string) (string, bool)
	// Redis, if not nil, is where state shared by several replicas lives
	// (the config's redis section, opened by the root package): stages that
	// keep state (ratelimit, cache, the spend counters) use it when their
	// config asks. Its type belongs to the one package that adapts Redis
	// (internal/redisstore), so that pipeline stays free of the client.
	Redis any
	// Instrument, if set, wraps every stage to observe it (metrics, traces).
	Instrument Instrument
	// CheckOnly is set by `tollgate validate`: stages check their config but
	// open no files, stores or connections, as a running gateway may hold
	// them.
	CheckOnly bool
	// Source, if set, says where the config set a path ("pipeline[2]" ->
	// "tollgate.yaml:14"); build errors start with it.
	Source func(path string) string
}

// Decode reads the entry's free-form config into dst, a pointer to a struct
// with json tags. Unknown keys and wrong types are errors naming the entry
// and the key.
func (s Spec) Decode(dst any) error { return DecodeConfig(s.Path()+": config", s.Config, dst) }

// Duration is a time.Duration written as a Go duration string ("30s",
// "1m30s") in stage configs.
type Duration time.Duration

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration like \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration like \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
