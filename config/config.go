package config

import "time"

// Config is the gateway's whole configuration, as loaded by [Load].
//
// A Config holds the names of environment variables that carry secrets, never
// the secrets themselves: printing or marshalling a Config is safe. Use
// [Config.Lookup] and [Config.APIKey] to read a secret when it is needed.
//
// A Config returned by [Load] is valid; it is not modified by this package
// afterwards and is safe for concurrent reads.
type Config struct {
	// Listen is the gateway listener's host:port.
	Listen string `koanf:"listen"`
	// AdminListen is the admin listener's host:port (/healthz, /readyz);
	// empty disables the admin listener.
	AdminListen string `koanf:"admin_listen"`
	// DataDir is the directory that holds all embedded state.
	DataDir string `koanf:"data_dir"`
	// Log configures the process logger.
	Log LogConfig `koanf:"log"`
	// Server holds HTTP server limits and timeouts.
	Server ServerConfig `koanf:"server"`
	// Customer says how a request names the customer it is billed to.
	Customer CustomerConfig `koanf:"customer"`
	// Providers maps a provider name to its upstream.
	Providers map[string]Provider `koanf:"providers"`
	// Pipeline is the ordered list of stages; the first is outermost.
	Pipeline []Stage `koanf:"pipeline"`
	// Admin, Auth, Metrics, Reload and Alerts configure operations; see
	// ops.go.
	Admin   AdminConfig   `koanf:"admin"`
	Auth    AuthConfig    `koanf:"auth"`
	Metrics MetricsConfig `koanf:"metrics"`
	Reload  ReloadConfig  `koanf:"reload"`
	Alerts  AlertsConfig  `koanf:"alerts"`
	// Redis, when set, holds the state replicas share.
	Redis RedisConfig `koanf:"redis"`

	// env answers Lookup. It is a pointer so that printing a Config with
	// %v or %+v shows an address, never the values behind it.
	env *environment
	// src answers Source.
	src *sources
}

// LogConfig configures the process logger.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `koanf:"level"`
	// Format is one of auto, text, json.
	Format string `koanf:"format"`
}

// ServerConfig holds HTTP server limits and timeouts shared by the gateway
// and admin listeners.
type ServerConfig struct {
	// MaxBodyBytes is the hard cap on a request body.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// MaxHeaderBytes is the cap on request headers (http.Server.MaxHeaderBytes).
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// ReadHeaderTimeout bounds reading request headers; 0 means no limit.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadBodyTimeout bounds reading a request's body, from the end of its
	// headers; 0 means no limit. It does not bound the answer: a stream
	// may run as long as it runs.
	ReadBodyTimeout time.Duration `koanf:"read_body_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits; 0 means no limit.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// ShutdownTimeout bounds a graceful shutdown; 0 means wait forever.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// MaxConcurrentRequests bounds the calls the gateway serves at once;
	// one more is answered 503 with Retry-After. 0 means no bound.
	MaxConcurrentRequests int `koanf:"max_concurrent_requests"`
	// Engine is the HTTP/1.1 server that serves both listeners:
	// EngineInline or EngineStandard.
	Engine string `koanf:"engine"`
	// GCHeadroomBytes keeps the garbage collector's heap goal at least this
	// far above the live heap (internal/gcfloor): fewer collections while
	// the heap is small, at most this much more memory. 0 leaves GOGC as
	// Go sets it; so does a GOGC in the environment.
	GCHeadroomBytes int64 `koanf:"gc_headroom_bytes"`
	// SysmonAwake keeps the Go runtime's system monitor polling while every
	// processor is idle, instead of sleeping until the next system call
	// wakes it — once per call at low load (internal/sysmon). tollgate
	// serve restarts itself in place to set it; a schedtrace in GODEBUG
	// is the operator's choice and wins.
	SysmonAwake bool `koanf:"sysmon_awake"`
	// ProcsFollowLoad runs the gateway on one Go processor while its calls
	// come one at a time and on all of them (GOMAXPROCS as Go sets it) as
	// soon as two overlap (internal/procs). A GOMAXPROCS in the
	// environment is the operator's choice and turns it off.
	ProcsFollowLoad bool `koanf:"procs_follow_load"`
}

// Values of [ServerConfig.Engine].
const (
	// EngineInline is tollgate's own server (internal/h1server): each
	// connection's requests are read and answered on its goroutine, with
	// no goroutine started per request; a client hang-up is watched for
	// only once a call has run a few milliseconds.
	EngineInline = "inline"
	// EngineStandard is net/http's http.Server.
	EngineStandard = "standard"
)

// CustomerConfig says how a request names its customer and metadata.
type CustomerConfig struct {
	// Header is the request header that names the customer.
	Header string `koanf:"header"`
	// MetadataHeaderPrefix marks request headers that carry metadata:
	// with prefix X-Tollgate-Meta-, the header X-Tollgate-Meta-Team: ml
	// becomes the metadata {team: ml}. Empty turns metadata headers off.
	MetadataHeaderPrefix string `koanf:"metadata_header_prefix"`
	// Missing is what happens to a request without the customer header:
	// MissingTrack or MissingReject.
	Missing string `koanf:"missing"`
}

// Values of [CustomerConfig.Missing].
const (
	// MissingTrack serves the request and tracks it as unattributed.
	MissingTrack = "track"
	// MissingReject refuses the request.
	MissingReject = "reject"
)

// Provider is one upstream LLM API.
type Provider struct {
	// Name is the provider's key in the providers map. It is filled in by
	// Load and is not read from the configuration.
	Name string `koanf:"-"`
	// Type is the wire format: openai, anthropic, gemini, or azure (the
	// OpenAI format at Azure OpenAI's paths). It defaults to the provider's
	// name.
	Type string `koanf:"type"`
	// BaseURL is the upstream's absolute http(s) base URL.
	BaseURL string `koanf:"base_url"`
	// APIKeyEnv names the environment variable that holds the API key;
	// empty means the upstream needs no key.
	APIKeyEnv string `koanf:"api_key_env"`
	// Models lists model-name patterns (path.Match syntax, e.g. "llama-*")
	// whose calls go to this upstream rather than its type's default.
	Models []string `koanf:"models"`
	// APIVersion is Azure OpenAI's api-version (type azure); empty selects
	// Azure's v1 API.
	APIVersion string `koanf:"api_version"`
	// Deployments maps a model name to its Azure deployment (type azure);
	// a model not listed is its own deployment name.
	Deployments map[string]string `koanf:"deployments"`
}

// Provider types, the allowed values of [Provider.Type].
const (
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
	TypeGemini    = "gemini"
	// TypeAzure is Azure OpenAI: the OpenAI wire format at Azure's paths.
	TypeAzure = "azure"
)

// Stage is one entry of the pipeline. The config package checks its shape;
// the pipeline package checks that its kind exists and reads its Config.
type Stage struct {
	// Name identifies the stage; it is required and unique in the pipeline.
	Name string `koanf:"name"`
	// Kind says how the stage is implemented, for example builtin, rego,
	// wasm or process.
	Kind string `koanf:"kind"`
	// Config is the stage's own settings, passed through untouched.
	Config map[string]any `koanf:"config"`
	// OnError is OnErrorFailOpen, OnErrorFailClosed, or empty for the
	// stage's own default.
	OnError string `koanf:"on_error"`
	// Timeout bounds one run of the stage; 0 means the stage's default.
	Timeout time.Duration `koanf:"timeout"`
}

// Values of [Stage.OnError].
const (
	// OnErrorFailOpen lets the request continue when the stage fails.
	OnErrorFailOpen = "fail_open"
	// OnErrorFailClosed fails the request when the stage fails.
	OnErrorFailClosed = "fail_closed"
)
