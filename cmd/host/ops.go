package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/keys"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/procs"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/internal/tracing"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/tracking"
	"github.com/tollgate-dev/tollgate/tracking/pricing"
)

// ops is what the host adds to the engine to run it in production: metrics,
// traces, virtual keys, the concurrency bound, readiness, the admin token,
// hot reload and alerts. Each part is off when its config section says so.
type ops struct {
	log     *slog.Logger
	cfg     atomic.Pointer[config.Config] // the config in force
	usage   *tracking.DB                  // may be nil
	metrics *metrics.Metrics              // nil when metrics are off
	tracer  *tracing.Tracer               // nil when tracing is off
	keys    *keys.Authenticator           // nil without virtual keys
	redis   *redisstore.Store             // nil without Redis
	eng     *core.Engine                  // set once built
	token   string                        // the admin token; "" when unset
	active  atomic.Int64                  // gateway requests in flight
	procs   *procs.Follower               // nil unless server.procs_follow_load
	limit   int64
	reload  atomic.Pointer[reloadStatus]
	prices  atomic.Pointer[pricing.Table] // the track stage's prices, for the cost metric
}

// reloadStatus is the outcome of the last reload, for /readyz, and how
// the config in force came to be, for /admin/config.
type reloadStatus struct {
	At       time.Time
	OK       bool
	Problems []string
	// Since is when the config in force was loaded: at start, or by the
	// last reload that succeeded when Reloaded.
	Since    time.Time
	Reloaded bool
	// Pending lists the settings that the file loaded then changed and
	// that wait for a restart.
	Pending []string
}

// newOps sets up what cfg asks for.
func newOps(ctx context.Context, cfg *config.Config, log *slog.Logger, usage *tracking.DB) (*ops, error) {
	o := &ops{log: log, usage: usage, limit: int64(cfg.Server.MaxConcurrentRequests)}
	o.cfg.Store(cfg)
	o.token = adminToken(cfg, log)
	if cfg.Metrics.Enabled {
		if err := o.setPrices(cfg); err != nil {
			return nil, err
		}
		o.metrics = metrics.New(metrics.Options{
			CustomerLabel: cfg.Metrics.CustomerLabel,
			Version:       tollgate.Version, Commit: commit,
			Parts:     o.parts,
			Upstreams: func() []string { return providerNames(o.cfg.Load()) },
			Cost:      func(out *core.Outcome) (core.USD, bool) { return cost(o.prices.Load(), out) },
		})
	}
	tr, err := tracing.FromEnv(ctx, tollgate.Version)
	if err != nil {
		return nil, err
	}
	o.tracer = tr
	if tr != nil {
		log.Info("tracing is on (OTEL_* variables)")
	}
	if cfg.Auth.VirtualKeys {
		a, err := openKeys(cfg, log)
		if err != nil {
			return nil, err
		}
		o.keys = a
	}
	if cfg.Redis.Enabled() {
		var password string
		if cfg.Redis.PasswordEnv != "" {
			password, _ = cfg.Lookup(cfg.Redis.PasswordEnv)
		}
		st, err := redisstore.Open(redisstore.Options{Addr: cfg.Redis.Addr, Username: cfg.Redis.Username, Password: password,
			DB: cfg.Redis.DB, TLS: cfg.Redis.TLS, KeyPrefix: cfg.Redis.KeyPrefix, DialTimeout: cfg.Redis.DialTimeout,
			Timeout: cfg.Redis.Timeout, PoolSize: cfg.Redis.PoolSize, DownFor: cfg.Redis.DownFor}, log)
		if err == nil {
			o.redis = st
		} else {
			log.Warn("cannot set up the Redis health check", "err", err)
		}
	}
	now := time.Now().UTC()
	o.reload.Store(&reloadStatus{At: now, OK: true, Since: now})
	return o, nil
}

// options are the engine and pipeline additions.
func (o *ops) options() []tollgate.Option {
	var insts []pipeline.Instrument
	var eng []core.Option
	if o.metrics != nil {
		insts = append(insts, o.metrics)
		eng = append(eng, core.WithObserver(o.metrics))
	}
	if o.tracer != nil {
		insts = append(insts, o.tracer)
		eng = append(eng, core.WithObserver(o.tracer))
	}
	if o.keys != nil {
		eng = append(eng, core.WithAuthenticator(o.keys))
	}
	return []tollgate.Option{tollgate.WithInstrument(pipeline.Instruments(insts...)), tollgate.WithEngineOptions(eng...)}
}

// instrument is what a reloaded pipeline is built with.
func (o *ops) instrument() tollgate.Option { return o.options()[0] }

// start runs the background parts until ctx is done.
func (o *ops) start(ctx context.Context, eng *core.Engine) {
	o.eng = eng
	if o.keys != nil {
		o.warnKeyLimits()
		go o.keys.Watch(ctx, o.cfg.Load().Auth.RefreshInterval)
	}
	o.startAlerts(ctx)
}

// shutdown flushes what the parts hold.
func (o *ops) shutdown(ctx context.Context) {
	if err := o.tracer.Shutdown(ctx); err != nil {
		o.log.Warn("spans not all exported at shutdown", "err", err)
	}
	if o.redis != nil {
		o.redis.Close()
	}
}

// parts are the live pipeline's parts, and the usage database.
func (o *ops) parts() []core.Part {
	var out []core.Part
	if o.eng != nil {
		out = append(out, o.eng.Pipeline().Parts()...)
	}
	if o.usage != nil {
		out = append(out, core.Part{Name: "usage.db", Value: o.usage})
	}
	return out
}

// gateway bounds the requests served at once: one over the bound is
// answered 503 with Retry-After, before its body is read.
func (o *ops) gateway(h http.Handler) http.Handler {
	var inFlight interface {
		Inc()
		Dec()
	}
	if o.metrics != nil {
		inFlight = o.metrics.InFlight()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.active.Add(1)
		defer o.active.Add(-1)
		if n > 1 && o.procs != nil {
			o.procs.Overlap()
		}
		if o.limit > 0 && n > o.limit {
			if o.metrics != nil {
				o.metrics.Overloaded()
			}
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":{"message":"the gateway is serving its limit of %d concurrent requests; retry shortly","type":"overloaded_error","code":"gateway_overloaded"}}`, o.limit)
			return
		}
		if inFlight != nil {
			inFlight.Inc()
			defer inFlight.Dec()
		}
		h.ServeHTTP(w, r)
	})
}

// admin guards /admin/... with the admin token and adds /metrics and the
// keys API to the admin mux.
func (o *ops) admin(mux *http.ServeMux) http.Handler {
	if o.metrics != nil {
		mux.Handle("GET /metrics", o.metrics.Handler())
	}
	keysRoutes(mux, o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") && !o.adminAllowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate admin"`)
			msg := "the admin API needs the admin token: Authorization: Bearer $" + o.cfg.Load().Admin.TokenEnv
			if o.token == "" {
				msg = "the admin API answers only loopback clients until " + o.cfg.Load().Admin.TokenEnv + " holds a token"
			}
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": msg})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminAllowed checks the admin token, in constant time. Without a token
// only loopback clients are served.
func (o *ops) adminAllowed(r *http.Request) bool {
	if o.token == "" {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(o.token)) == 1
}

// checker is what a pipeline part implements to take part in /readyz.
type checker interface {
	Check(ctx context.Context) error
}

// ready runs every check: the config in force, the usage outbox, Redis,
// each part that checks itself, the breakers, the virtual keys. A breaker
// that is open is reported but does not make the replica unready: every
// replica sees the same upstream.
func (o *ops) ready(ctx context.Context) (bool, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ready := true
	checks := map[string]string{"config": "ok", "pipeline": "ok"}
	if st := o.reload.Load(); !st.OK {
		checks["config"] = fmt.Sprintf("the reload at %s was rejected, the config loaded before keeps serving: %s",
			st.At.Format(time.RFC3339), strings.Join(st.Problems, "; "))
	}
	if o.usage != nil {
		h := o.usage.Health()
		checks["usage_outbox"] = h.Detail
		if !h.Ready {
			ready = false
		}
	}
	if o.redis != nil {
		if err := o.redis.Ping(ctx); err != nil {
			checks["redis"] = "unreachable at " + o.redis.Addr() + ": " + err.Error()
			ready = false
		} else {
			checks["redis"] = "ok"
		}
	}
	if o.keys != nil {
		checks["virtual_keys"] = strconv.Itoa(o.keys.Count()) + " keys loaded"
	}
	ups := providerNames(o.cfg.Load())
	for _, p := range o.parts() {
		if c, ok := p.Value.(checker); ok {
			if err := c.Check(ctx); err != nil {
				checks["stage "+p.Name] = err.Error()
				ready = false
			} else {
				checks["stage "+p.Name] = "ok"
			}
		}
		if b, ok := p.Value.(metrics.BreakerStater); ok {
			var open []string
			for _, u := range ups {
				if s := b.State(u); s != "closed" {
					open = append(open, u+" "+s)
				}
			}
			checks["breakers "+p.Name] = "all closed"
			if len(open) > 0 {
				checks["breakers "+p.Name] = "not closed: " + strings.Join(open, ", ")
			}
		}
	}
	return ready, checks
}

// reloaded records a reload's outcome: cfg is in force now, with pending
// waiting for a restart, or problems kept the config in force.
func (o *ops) reloaded(cfg *config.Config, pending, problems []string) {
	ok := len(problems) == 0
	now := time.Now().UTC()
	st := &reloadStatus{At: now, OK: ok, Problems: problems, Since: now, Reloaded: true, Pending: pending}
	if !ok {
		prev := o.reload.Load()
		st.Since, st.Reloaded, st.Pending = prev.Since, prev.Reloaded, prev.Pending
	}
	o.reload.Store(st)
	if ok {
		o.cfg.Store(cfg)
		o.warnKeyLimits()
		if o.metrics != nil {
			if err := o.setPrices(cfg); err != nil {
				o.log.Warn("the cost metric keeps the prices in force before the reload", "err", err)
			}
		}
	}
	if o.metrics != nil {
		o.metrics.Reloaded(ok)
	}
}

// adminToken reads the admin token, warning when the admin listener is
// reachable from other hosts without one.
func adminToken(cfg *config.Config, log *slog.Logger) string {
	var token string
	if cfg.Admin.TokenEnv != "" {
		token, _ = cfg.Lookup(cfg.Admin.TokenEnv)
	}
	if token == "" && cfg.AdminListen != "" && !loopbackAddr(cfg.AdminListen) {
		log.Warn("the admin listener is not on loopback and no admin token is set: /admin/... answers only loopback clients until you set the variable",
			"admin_listen", cfg.AdminListen, "variable", cfg.Admin.TokenEnv)
	}
	return token
}

// openKeys reads the virtual keys (the store in data_dir and
// auth.keys_file), warning when there are none: every call would be
// refused. The store is opened only while it is read, so a running gateway
// does not hold it.
func openKeys(cfg *config.Config, log *slog.Logger) (*keys.Authenticator, error) {
	a, err := keys.NewAuthenticator(keys.NewStore(cfg.DataDir), cfg.Auth.KeysFile, log)
	if err != nil {
		return nil, err
	}
	if a.Count() == 0 {
		log.Warn("virtual keys are on but none exist yet: every call is refused until you run `tollgate keys create`")
	}
	return a, nil
}

func providerNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
