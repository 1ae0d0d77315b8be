package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/tracking"
	"github.com/tollgate-dev/tollgate/tracking/pricing"
	"github.com/tollgate-dev/tollgate/tracking/sinks" // sink types jsonl, http, stdout
)

// TrackConfig configures the track stage (docs/configuration.md, `track`).
type TrackConfig struct {
	// Sinks are where usage events go; each gets every event, delivered
	// independently. Each entry has a type, the type's own keys, and the
	// keys of [SinkDelivery].
	Sinks []map[string]any `json:"sinks"`
	// Outbox bounds the durable outbox.
	Outbox OutboxConfig `json:"outbox"`
	// Pricing replaces or adds entries of the built-in price table:
	// provider → model → prices per million tokens.
	Pricing pricing.Prices `json:"pricing"`
	// Ledger makes this stage feed the usage ledger (default true). With two
	// track stages, only one may.
	Ledger *bool `json:"ledger"`
}

// OutboxConfig bounds the durable outbox.
type OutboxConfig struct {
	// MaxBacklogBytes bounds each sink's stored events, queued and dead
	// letters (default 1 GiB).
	MaxBacklogBytes int64 `json:"max_backlog_bytes"`
	// MaxMemoryEvents bounds events handed off but not yet on disk
	// (default 100000).
	MaxMemoryEvents int `json:"max_memory_events"`
	// OnFull is drop (default) or unready.
	OnFull string `json:"on_full"`
	// CommitInterval is the least time between two commits to disk
	// (default 25ms; 1ns: commit at once).
	CommitInterval pipeline.Duration `json:"commit_interval"`
}

// check reports what the outbox would refuse at start, or take for its
// default without a word: validate must find both.
func (c OutboxConfig) check() error {
	switch {
	case c.MaxBacklogBytes < 0:
		return fmt.Errorf("max_backlog_bytes: must not be negative, got %d", c.MaxBacklogBytes)
	case c.MaxMemoryEvents < 0:
		return fmt.Errorf("max_memory_events: must not be negative, got %d", c.MaxMemoryEvents)
	}
	return tracking.CheckOnFull(c.OnFull)
}

// sharedSinkKeys are the keys every sink entry takes besides its type's own:
// type, and SinkDelivery's.
var sharedSinkKeys = []string{"batch", "name", "retry", "type", "usage_events"}

// SinkDelivery holds the keys every sink entry has besides its type's own.
type SinkDelivery struct {
	// Name identifies the sink's queue and dead letters (default: its type).
	Name  string      `json:"name"`
	Batch BatchConfig `json:"batch"`
	Retry RetryConfig `json:"retry"`
	// UsageEvents false keeps usage events out of the sink: it receives
	// only payloads delivered to "sink:NAME" (decision logs, plugins).
	UsageEvents *bool `json:"usage_events"`
}

// defaultMaxAge is how long a sink type's batch may wait to fill when the
// config does not say: a request per batch to an HTTP endpoint and an fsync
// per batch to a file (~100 µs of CPU here: tracking's BenchmarkFileSync)
// are worth sharing.
var defaultMaxAge = map[string]time.Duration{"http": time.Second, "jsonl": 100 * time.Millisecond}

// BatchConfig says when a batch is sent: at MaxEvents, or when its oldest
// event has waited MaxAge.
type BatchConfig struct {
	MaxEvents int               `json:"max_events"`
	MaxAge    pipeline.Duration `json:"max_age"`
}

// RetryConfig governs retries of a failed delivery.
type RetryConfig struct {
	Initial     pipeline.Duration `json:"initial"`
	Max         pipeline.Duration `json:"max"`
	MaxAttempts int               `json:"max_attempts"`
}

// Track is a completion stage: it turns every call's outcome into a usage
// event and hands it to the durable outbox (package tracking), which
// persists it, prices it, adds it to the ledger and delivers it to each
// sink. The hand-off appends to memory and never waits for disk or network,
// and never fails the call. Close persists what is in memory and flushes
// what it can. Safe for concurrent use.
type Track struct {
	db      *tracking.DB
	outbox  *tracking.Outbox
	tempDir string // NewTrack's private data directory
}

func newTrack(s pipeline.Spec, env pipeline.Env) (any, error) {
	var cfg TrackConfig
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	if len(cfg.Sinks) == 0 {
		return nil, fmt.Errorf("%s: config: sinks: at least one sink is required, e.g. {type: jsonl, path: data/usage.jsonl}", s.Path())
	}
	if err := cfg.Outbox.check(); err != nil {
		return nil, fmt.Errorf("%s: config: outbox.%w", s.Path(), err)
	}
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	table, err := pricing.NewTable(cfg.Pricing, log)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", s.Path(), err)
	}
	built, err := buildSinks(s, env, cfg.Sinks)
	if err != nil {
		return nil, err
	}
	if env.CheckOnly {
		closeSinks(built)
		return &Track{}, nil
	}
	if env.DataDir == "" {
		closeSinks(built)
		return nil, fmt.Errorf("%s: data_dir: required: the track stage keeps its outbox there", s.Path())
	}
	db, err := tracking.Open(env.DataDir, tracking.WithLogger(log))
	if err != nil {
		closeSinks(built)
		return nil, fmt.Errorf("%s: %w", s.Path(), err)
	}
	ob, err := db.NewOutbox(tracking.Config{
		Stage:           s.Name,
		Sinks:           built,
		MaxBacklogBytes: cfg.Outbox.MaxBacklogBytes,
		MaxMemoryEvents: cfg.Outbox.MaxMemoryEvents,
		OnFull:          cfg.Outbox.OnFull,
		CommitInterval:  time.Duration(cfg.Outbox.CommitInterval),
		Price:           table.Apply,
		Ledger:          cfg.Ledger == nil || *cfg.Ledger,
		Log:             log,
	})
	if err != nil {
		closeSinks(built)
		db.Close()
		return nil, fmt.Errorf("%s: config: %w", s.Path(), err)
	}
	return &Track{db: db, outbox: ob}, nil
}

// SinkNames lists the names the sinks of a track stage's config go by, for
// checks that other stages name one that exists.
func SinkNames(config map[string]any) []string {
	entries, _ := config["sinks"].([]any)
	var names []string
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok {
			names = append(names, sinkName(m))
		}
	}
	return names
}

// sinkName is what a sink entry goes by: its name, else its type.
func sinkName(entry map[string]any) string {
	if name, ok := entry["name"].(string); ok && name != "" {
		return name
	}
	typ, _ := entry["type"].(string)
	return typ
}

// buildSinks builds each entry through the pipeline's sink registry after
// taking out the delivery keys every sink has.
func buildSinks(s pipeline.Spec, env pipeline.Env, entries []map[string]any) ([]tracking.SinkConfig, error) {
	var out []tracking.SinkConfig
	var errs []error
	names := map[string]int{}
	for i, entry := range entries {
		path := fmt.Sprintf("%s: config: sinks[%d]", s.Path(), i)
		typ, _ := entry["type"].(string)
		if typ == "" {
			errs = append(errs, fmt.Errorf("%s: type: required (one of jsonl, http, stdout, or a plugin sink type)", path))
			continue
		}
		common, rest := map[string]any{}, map[string]any{}
		for k, v := range entry {
			switch {
			case k == "type":
			case slices.Contains(sharedSinkKeys, k):
				common[k] = v
			default:
				rest[k] = v
			}
		}
		d := SinkDelivery{Name: sinkName(entry)}
		if err := pipeline.DecodeConfig(path, common, &d); err != nil {
			errs = append(errs, err)
			continue
		}
		if j, dup := names[d.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: %q is already used by sinks[%d]; give each sink a distinct name", path, d.Name, j))
			continue
		}
		names[d.Name] = i
		if d.Batch.MaxEvents < 0 || d.Retry.MaxAttempts < 0 {
			errs = append(errs, fmt.Errorf("%s: batch.max_events and retry.max_attempts must not be negative", path))
			continue
		}
		sink, err := pipeline.NewSink(pipeline.SinkSpec{Type: typ, Config: rest, Path: path, Shared: sharedSinkKeys}, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sc := tracking.SinkConfig{Name: d.Name, Sink: sink, MaxEvents: d.Batch.MaxEvents, MaxAge: time.Duration(d.Batch.MaxAge),
			Retry:        tracking.RetryPolicy{Initial: time.Duration(d.Retry.Initial), Max: time.Duration(d.Retry.Max), MaxAttempts: d.Retry.MaxAttempts},
			PayloadsOnly: d.UsageEvents != nil && !*d.UsageEvents}
		if sc.MaxEvents == 0 {
			sc.MaxEvents = 1000
			if typ != "jsonl" && typ != "stdout" {
				sc.MaxEvents = 100
			}
		}
		if b, _ := entry["batch"].(map[string]any); b["max_age"] == nil {
			sc.MaxAge = defaultMaxAge[typ]
		}
		out = append(out, sc)
	}
	if len(errs) > 0 {
		closeSinks(out)
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func closeSinks(sc []tracking.SinkConfig) {
	for _, s := range sc {
		s.Sink.Close()
	}
}

// NewTrack returns a track stage delivering to sinks through a durable
// outbox in a private temporary data directory, removed by Close; names
// name the sinks and batchSize caps a batch. Benchmarks and tests use it;
// configured gateways get theirs from the config.
func NewTrack(sinkList []core.Sink, names []string, batchSize int, log *slog.Logger) *Track {
	dir, err := os.MkdirTemp("", "tollgate-track")
	if err != nil {
		panic("builtin: NewTrack: " + err.Error())
	}
	db, err := tracking.Open(dir, tracking.WithLogger(log))
	if err != nil {
		panic("builtin: NewTrack: " + err.Error())
	}
	var sc []tracking.SinkConfig
	for i, s := range sinkList {
		sc = append(sc, tracking.SinkConfig{Name: names[i], Sink: s, MaxEvents: batchSize})
	}
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Sinks: sc, Ledger: true, Log: log})
	if err != nil {
		panic("builtin: NewTrack: " + err.Error())
	}
	return &Track{db: db, outbox: ob, tempDir: dir}
}

// NewWriterSink returns a sink writing JSON Lines to w (see
// [sinks.NewWriter]).
func NewWriterSink(w io.Writer) core.Sink { return sinks.NewWriter(w) }

// Complete hands the outcome's usage event to the outbox. It does not
// block on I/O.
func (t *Track) Complete(o *core.Outcome) {
	if t.outbox == nil {
		return // built by `tollgate validate`
	}
	t.outbox.Enqueue(core.NewUsageEvent(o))
}

// Outbox is the stage's outbox (nil when built to check a config).
func (t *Track) Outbox() *tracking.Outbox { return t.outbox }

// Close persists the events in memory, delivers what it can until ctx is
// done and keeps the rest on disk for the next start.
func (t *Track) Close(ctx context.Context) error {
	if t.outbox == nil {
		return nil
	}
	err := errors.Join(t.outbox.Close(ctx), t.db.Close())
	if t.tempDir != "" {
		os.RemoveAll(t.tempDir)
	}
	return err
}

var (
	_ core.Completer  = (*Track)(nil)
	_ pipeline.Closer = (*Track)(nil)
)
