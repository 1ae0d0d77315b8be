// Package metrics adapts prometheus/client_golang to tollgate: it is the
// only package that imports it. A [Metrics] observes every call of an engine
// (a core.Observer: requests, latency, time to first token, tokens, cost,
// cache hits, retries, denials), times every stage of every pipeline (a
// pipeline.Instrument), and reads gauges from the live pipeline's parts at
// scrape time (breaker states, outbox depth, dead letters). The host serves
// it on the admin listener at /metrics.
//
// Every metric is named tollgate_…, with base units (seconds, bytes, USD)
// and _total on counters, per the Prometheus naming conventions. Labels are
// bounded by the config (providers, upstreams, stages, sinks) and by the
// models called, the first [MaxModels] of them (a model is the client's
// text: past that, new names are counted as "other"); the customer label
// is off unless [Options.CustomerLabel] is set, as customers can be many,
// and bounded the same way ([MaxCustomers]).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// Options configures [New].
type Options struct {
	// CustomerLabel adds a customer label to the token and cost counters.
	// Each customer is then a set of series: turn it on only when customers
	// are few (hundreds, not millions). Customers past the first
	// [MaxCustomers] are counted as "other".
	CustomerLabel bool
	// Version, Commit and GoVersion label tollgate_build_info.
	Version, Commit string
	// Parts returns the live pipeline's built parts, read at scrape time
	// for breaker states and outbox statistics; nil reads none.
	Parts func() []core.Part
	// Upstreams returns the configured upstream names, for per-upstream
	// gauges such as breaker state.
	Upstreams func() []string
	// Cost returns the cost of a call's usage, or false when its model has
	// no price; nil leaves tollgate_cost_usd_total out. It should price as
	// the track stage prices usage events (the host passes the track
	// stage's table, overrides included), so that the metric and the
	// billed usage agree. It is called once per call with usage and must
	// be safe for concurrent use.
	Cost func(o *core.Outcome) (core.USD, bool)
}

// Metrics holds tollgate's collectors and the registry that serves them.
// It is safe for concurrent use.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	ttft          *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	cost          *prometheus.CounterVec
	cacheHits     *prometheus.CounterVec
	retries       *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	stageDuration *prometheus.HistogramVec
	upstreamDur   *prometheus.HistogramVec
	stageFailures *prometheus.CounterVec
	inFlight      prometheus.Gauge
	overloaded    prometheus.Counter
	reloads       *prometheus.CounterVec
	reloadTime    prometheus.Gauge
	authFailures  prometheus.Counter

	series    sync.Map // seriesKey -> *callSeries
	upstreams sync.Map // upstream name -> prometheus.Observer
	models    labelSet
	customers labelSet
}

// MaxModels bounds the distinct values of the model label. A model name is
// whatever the client sent: a client naming a new model on each call (each
// refused by the upstream) would otherwise add series, and memory, without
// end. Calls to models past the first MaxModels are labelled Other.
const MaxModels = 500

// MaxCustomers bounds the distinct values of the customer label
// ([Options.CustomerLabel]) as MaxModels bounds the model's: a customer id
// is the client's header unless virtual keys are required.
const MaxCustomers = 1000

// Other is the label of calls past a label's bound.
const Other = "other"

// labelSet admits the first max distinct values of a label; later values
// read as Other.
type labelSet struct {
	max  int64
	seen sync.Map // admitted value -> struct{}
	n    atomic.Int64
}

// label is v, or Other once max other values have been admitted.
func (l *labelSet) label(v string) string {
	if _, ok := l.seen.Load(v); ok {
		return v
	}
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
		return Other
	}
	if _, loaded := l.seen.LoadOrStore(v, struct{}{}); loaded {
		l.n.Add(-1)
	}
	return v
}

// Buckets for call-level latencies: LLM calls run from milliseconds
// (a cache hit) to minutes (a long reasoning stream).
var callBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Buckets for a stage's own time: microseconds for a built-in, milliseconds
// for a plugin or a policy, seconds for the upstream call.
var stageBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New returns a Metrics with its collectors registered, together with the Go
// runtime and process collectors.
func New(opts Options) *Metrics {
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry(),
		models: labelSet{max: MaxModels}, customers: labelSet{max: MaxCustomers}}
	custom := []string{"provider", "model", "type"}
	costLabels := []string{"provider", "model"}
	if opts.CustomerLabel {
		custom = append(custom, "customer")
		costLabels = append(costLabels, "customer")
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_requests_total",
		Help: "Calls by wire format (provider), upstream, operation, model, outcome status and HTTP code."},
		[]string{"provider", "upstream", "operation", "model", "status", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_request_duration_seconds",
		Help: "Whole-call latency, from arrival to the end of the answer (the last event of a stream).", Buckets: callBuckets},
		[]string{"provider", "operation", "model"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_time_to_first_token_seconds",
		Help: "Delay from arrival to the first event of a streamed answer.", Buckets: callBuckets},
		[]string{"provider", "model"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_tokens_total",
		Help: "Tokens by type: input (all of it), output (all of it), cached_input, cache_write and reasoning (parts of those)."}, custom)
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_cost_usd_total",
		Help: "What the calls cost at the configured prices, in US dollars."}, costLabels)
	m.cacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_cache_hits_total",
		Help: "Calls answered from the response cache."}, []string{"provider", "model"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_retries_total",
		Help: "Extra upstream attempts made by the retry stage."}, []string{"provider", "model"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_refusals_total",
		Help: "Calls refused before an answer, by reason (denied: a policy; rate_limited; circuit_open; unauthorized; invalid) and the stage that refused."},
		[]string{"reason", "stage"})
	m.stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_stage_duration_seconds",
		Help: "A stage's own time per call: from entering it to its return, less the time spent in the stages inside it.", Buckets: stageBuckets},
		[]string{"stage"})
	m.upstreamDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_upstream_duration_seconds",
		Help: "One upstream attempt, from sending the request to the response headers (the whole body when not streamed).", Buckets: callBuckets},
		[]string{"upstream"})
	m.stageFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_stage_failures_total",
		Help: "Stage failures handled by on_error: reason error, timeout or panic; on_error fail_open or fail_closed."},
		[]string{"stage", "reason", "on_error"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_in_flight_requests",
		Help: "Requests the gateway listener is serving now."})
	m.overloaded = prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_overloaded_requests_total",
		Help: "Requests refused with 503 because server.max_concurrent_requests were already in flight."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_config_reloads_total",
		Help: "Config reloads by result: success or failure (the old config kept serving)."}, []string{"result"})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_config_last_reload_success_timestamp_seconds",
		Help: "When the config in force was loaded, as a Unix time."})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_auth_failures_total",
		Help: "Calls refused with 401: no virtual key, or an unknown or revoked one."})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tollgate_build_info",
		Help: "Always 1; the labels say which build is running."}, []string{"version", "commit"})
	build.WithLabelValues(opts.Version, opts.Commit).Set(1)
	m.reloadTime.SetToCurrentTime()
	m.reg.MustRegister(m.requests, m.duration, m.ttft, m.tokens, m.cost, m.cacheHits, m.retries, m.refusals,
		m.stageDuration, m.upstreamDur, m.stageFailures, m.inFlight, m.overloaded, m.reloads, m.reloadTime, m.authFailures, build,
		&partsCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// StartCall leaves the context as it is: request metrics are recorded from
// the outcome.
func (m *Metrics) StartCall(ctx context.Context, _ *core.Request) context.Context { return ctx }

// seriesKey names the per-call series of one kind of call.
type seriesKey struct {
	provider, upstream, operation, model, status string
	code                                         int
}

// callSeries holds the resolved collectors of one seriesKey, so that a call
// costs a map lookup rather than label hashing per metric.
type callSeries struct {
	requests  prometheus.Counter
	duration  prometheus.Observer
	ttft      prometheus.Observer
	cacheHits prometheus.Counter
	retries   prometheus.Counter
	usage     atomic.Pointer[usageSeries] // resolved on the first call with usage
}

// usageSeries holds the token and cost counters of a seriesKey.
type usageSeries struct {
	tokens [5]prometheus.Counter // input, output, cached_input, cache_write, reasoning
	cost   prometheus.Counter
}

var tokenTypes = [5]string{"input", "output", "cached_input", "cache_write", "reasoning"}

// seriesFor returns the series of k, first putting k's model in its label
// (bounded by MaxModels) when k is new. A cached k has a labelled model
// already, so a call pays one map lookup; a model past MaxModels pays two,
// and is not cached under its own name.
func (m *Metrics) seriesFor(k *seriesKey) *callSeries {
	if s, ok := m.series.Load(*k); ok {
		return s.(*callSeries)
	}
	if k.model = m.models.label(k.model); k.model == Other {
		if s, ok := m.series.Load(*k); ok {
			return s.(*callSeries)
		}
	}
	s := &callSeries{
		requests:  m.requests.WithLabelValues(k.provider, k.upstream, k.operation, k.model, k.status, strconv.Itoa(k.code)),
		duration:  m.duration.WithLabelValues(k.provider, k.operation, k.model),
		ttft:      m.ttft.WithLabelValues(k.provider, k.model),
		cacheHits: m.cacheHits.WithLabelValues(k.provider, k.model),
		retries:   m.retries.WithLabelValues(k.provider, k.model),
	}
	v, _ := m.series.LoadOrStore(*k, s)
	return v.(*callSeries)
}

// Complete records one call's outcome.
func (m *Metrics) Complete(o *core.Outcome) {
	r := o.Request
	k := seriesKey{operation: r.Operation, model: r.Model, status: o.Status, code: o.HTTPStatus}
	if r.Format != nil {
		k.provider = r.Format.Name()
	}
	if r.Upstream != nil {
		k.upstream = r.Upstream.Name
	}
	s := m.seriesFor(&k)
	s.requests.Inc()
	s.duration.Observe(o.Latency.Seconds())
	if r.Stream && o.TimeToFirstToken > 0 {
		s.ttft.Observe(o.TimeToFirstToken.Seconds())
	}
	if r.CacheHit {
		s.cacheHits.Inc()
	}
	if r.Retries > 0 {
		s.retries.Add(float64(r.Retries))
	}
	u := o.Usage
	if !u.IsZero() && !r.CacheHit {
		counts := [5]int64{u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheWriteTokens, u.ReasoningTokens}
		us := s.usage.Load()
		if us == nil || m.opts.CustomerLabel {
			us = m.usageFor(k, r.Customer)
			if !m.opts.CustomerLabel {
				s.usage.Store(us)
			}
		}
		for i, n := range counts {
			if n > 0 {
				us.tokens[i].Add(float64(n))
			}
		}
		if m.opts.Cost != nil {
			if c, ok := m.opts.Cost(o); ok && c > 0 {
				us.cost.Add(float64(c) / float64(core.Dollar))
			}
		}
	}
	if o.Err != nil {
		m.refused(o)
	}
}

// usageFor resolves the token and cost counters of a call.
func (m *Metrics) usageFor(k seriesKey, customer string) *usageSeries {
	us := &usageSeries{}
	if m.opts.CustomerLabel {
		customer = m.customers.label(customer)
	}
	for i, t := range tokenTypes {
		if m.opts.CustomerLabel {
			us.tokens[i] = m.tokens.WithLabelValues(k.provider, k.model, t, customer)
		} else {
			us.tokens[i] = m.tokens.WithLabelValues(k.provider, k.model, t)
		}
	}
	if m.opts.CustomerLabel {
		us.cost = m.cost.WithLabelValues(k.provider, k.model, customer)
	} else {
		us.cost = m.cost.WithLabelValues(k.provider, k.model)
	}
	return us
}

// refused counts a call refused on purpose, by reason and stage.
func (m *Metrics) refused(o *core.Outcome) {
	switch o.Status {
	case core.StatusDenied, core.StatusRateLimited, core.StatusCircuitOpen, core.StatusUnauthorized, core.StatusInvalid:
		e := core.AsError(o.Err)
		m.refusals.WithLabelValues(o.Status, e.Stage).Inc()
		if o.Status == core.StatusUnauthorized {
			m.authFailures.Inc()
		}
	}
}

// InFlight returns the gauge of requests being served, for the host's
// concurrency limiter.
func (m *Metrics) InFlight() prometheus.Gauge { return m.inFlight }

// Overloaded counts a request refused for being over the concurrency bound.
func (m *Metrics) Overloaded() { m.overloaded.Inc() }

// Reloaded counts a config reload; a successful one sets the reload time.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadTime.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}

// StageFailed counts a stage failure on_error handled.
func (m *Metrics) StageFailed(stage, reason string, failOpen bool) {
	onError := pipeline.FailClosed
	if failOpen {
		onError = pipeline.FailOpen
	}
	m.stageFailures.WithLabelValues(stage, reason, onError).Inc()
}

var (
	_ core.Observer            = (*Metrics)(nil)
	_ pipeline.Instrument      = (*Metrics)(nil)
	_ pipeline.FailureObserver = (*Metrics)(nil)
)

// now is time.Now, replaceable in tests.
var now = time.Now
