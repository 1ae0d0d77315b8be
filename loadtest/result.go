package loadtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Result is one harness run, as written to loadtest/results/<date>.json.
type Result struct {
	Date     time.Time `json:"date"`
	Commit   string    `json:"commit"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Targets  []Target  `json:"targets"`
}

// Machine says where a run happened and how busy the machine was.
type Machine struct {
	CPUs       int        `json:"cpus"`
	CPUModel   string     `json:"cpu_model"`
	Go         string     `json:"go"`
	Kernel     string     `json:"kernel"`
	Wrk        string     `json:"wrk"`
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
}

// Settings are the knobs of a run.
type Settings struct {
	Rounds        int      `json:"rounds"`
	Duration      Duration `json:"duration"`
	Warmup        Duration `json:"warmup"`
	Concurrencies []int    `json:"concurrencies"`
	BodyBytes     int      `json:"body_bytes"`
	TTFBStreams   int      `json:"ttfb_streams"`
	Streams       int      `json:"concurrent_streams"`
	ChunkDelay    Duration `json:"chunk_delay"`
	StreamEvents  int      `json:"stream_events"`
	Nice          int      `json:"nice,omitempty"`
	Slices        int      `json:"slices,omitempty"`       // a round's run of a target, cut into this many interleaved slices
	SliceWarmup   int      `json:"slice_warmup,omitempty"` // untimed calls before each slice
	PauseOthers   bool     `json:"pause_others,omitempty"` // the other proxies and gateways stopped during a target's turn
}

// Target kinds.
const (
	KindDirect  = "direct"  // the upstream itself
	KindBare    = "bare"    // bare httputil.ReverseProxy
	KindRelay   = "relay"   // a TCP relay: the second hop and nothing else
	KindGateway = "gateway" // bin/tollgate serve
)

// Target is one thing under load: its figures of every round.
type Target struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Config  string   `json:"config,omitempty"`
	Env     []string `json:"env,omitempty"`     // added to the gateway's environment (--env)
	Binary  string   `json:"binary,omitempty"`  // the row's own gateway binary (--binary)
	Skipped string   `json:"skipped,omitempty"` // why it did not run

	IdleRSSKB  int64 `json:"idle_rss_kb"`
	IdleAnonKB int64 `json:"idle_anon_kb"` // RssAnon: VmRSS less the binary's file pages
	PeakHWMKB  int64 `json:"peak_hwm_kb"`  // VmHWM at the end of the run

	HTTP    []HTTPRuns  `json:"http"`
	TTFB    []StreamRun `json:"ttfb"`              // sequential streams, one per round
	Streams *StreamRun  `json:"streams,omitempty"` // the many concurrent streams
	Notes   []string    `json:"notes,omitempty"`
}

// HTTPRuns are the rounds of one concurrency.
type HTTPRuns struct {
	Concurrency int      `json:"concurrency"`
	Rounds      []Sample `json:"rounds"`
}

// Sample is one round of one target at one concurrency: one wrk run, or
// the pooled slices of several (pool).
type Sample struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50        float64 `json:"p50_us"`
	P90        float64 `json:"p90_us"`
	P99        float64 `json:"p99_us"`
	P999       float64 `json:"p999_us"`
	Mean       float64 `json:"mean_us"`
	CPUPerReq  float64 `json:"cpu_us_per_req"`          // the target process
	UpCPUPer   float64 `json:"upstream_cpu_us_per_req"` // the upstream process
	MaxRSSKB   int64   `json:"max_rss_kb"`              // largest VmRSS sampled during the run
	MaxAnonKB  int64   `json:"max_anon_kb"`             // largest RssAnon sampled during the run
	LoadAvg1   float64 `json:"loadavg1"`
	FirstError string  `json:"first_error,omitempty"`

	hist []bin // wrk's latency histogram, for pooling slices; not kept
}

// StreamRun is a batch of streamed calls.
type StreamRun struct {
	Streams     int     `json:"streams"`
	Concurrency int     `json:"concurrency"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	PeakOpen    int     `json:"peak_open"`
	Seconds     float64 `json:"seconds"`
	TTFBP50     float64 `json:"ttfb_p50_us"`
	TTFBP90     float64 `json:"ttfb_p90_us"`
	TTFBP99     float64 `json:"ttfb_p99_us"`
	MaxRSSKB    int64   `json:"max_rss_kb"`
	MaxAnonKB   int64   `json:"max_anon_kb"`
	FirstError  string  `json:"first_error,omitempty"`
}

// Duration is a time.Duration written as a Go duration string.
type Duration time.Duration

// MarshalJSON writes "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Target returns the target named name, or nil.
func (r *Result) Target(name string) *Target {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

// ByKind returns the first target of kind k that ran, or nil.
func (r *Result) ByKind(k string) *Target {
	for i := range r.Targets {
		if r.Targets[i].Kind == k && r.Targets[i].Skipped == "" {
			return &r.Targets[i]
		}
	}
	return nil
}

// Runs returns the rounds at concurrency c, or nil.
func (t *Target) Runs(c int) []Sample {
	for _, h := range t.HTTP {
		if h.Concurrency == c {
			return h.Rounds
		}
	}
	return nil
}

// WriteResult writes r as indented JSON to path.
func WriteResult(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResult reads a result file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	return &r, json.Unmarshal(b, &r)
}

// ResultFiles lists the result files in dir, oldest first (their names
// start with the date).
func ResultFiles(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	m = slices.DeleteFunc(m, func(p string) bool { return strings.HasPrefix(filepath.Base(p), ".") })
	sort.Strings(m)
	return m, nil
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0..100) of sorted xs, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
