package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/gcfloor"
	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/sysmon"
	"github.com/tollgate-dev/tollgate/tracking"
)

// serve runs the gateway until ctx is cancelled (SIGINT or SIGTERM), then
// shuts down gracefully: listeners close, calls in flight finish, and
// pending usage events are flushed, all within server.shutdown_timeout. A
// second SIGINT or SIGTERM cuts the shutdown short (shortenOnSignal). It
// returns 0 when every usage event was persisted, cut short or not.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// SIGHUP's default is to end the process: caught from the start, one
	// that comes while the gateway starts is a reload once it serves.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Every SIGINT and SIGTERM from the start, so that none is missed
	// between the one that begins the shutdown and the watch for the next.
	stops := make(chan os.Signal, 2)
	signal.Notify(stops, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stops)
	cfg, fs, err := loadConfig("serve", args, stdout, stderr)
	if err != nil {
		return loadFailed(stderr, err)
	}
	var restartErr error
	// Not after a SIGTERM or SIGINT: the new image would not see it.
	if cfg.Server.SysmonAwake && mayRestart && ctx.Err() == nil {
		restartErr = sysmon.Exec() // returns only if it did not restart
	}
	awake := sysmon.Awake()
	sysmon.Unset()
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return 1
	}
	slog.SetDefault(log)
	if restartErr != nil {
		log.Warn("cannot restart with the Go system monitor awake (server.sysmon_awake): serving without it", "err", restartErr)
	}
	// The usage database is opened (and checked) before anything serves: a
	// damaged one stops the start with the recovery command.
	usage, err := tracking.Open(cfg.DataDir, tracking.WithLogger(log))
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return 1
	}
	defer usage.Close()
	op, err := newOps(ctx, cfg, log, usage)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return 1
	}
	eng, err := buildEngine(cfg, log, op.options()...)
	if err != nil {
		printError(stderr, err)
		return 1
	}
	op.start(ctx, eng)
	procsMode := followLoad(ctx, cfg.Server.ProcsFollowLoad, op)
	defer startGCFloor(cfg.Server.GCHeadroomBytes, log)()
	// The calls' contexts derive from calls: cutting them at shutdown
	// cancels it first, so that their usage events say why.
	calls, cutCalls := context.WithCancelCause(context.Background())
	defer cutCalls(nil)
	gw, err := listen(cfg.Listen, op.gateway(eng.Handler()), cfg.Server, calls)
	if err != nil {
		cannotListen(log, cfg, "listen", err)
		eng.Close(context.Background())
		return 1
	}
	servers := []*server{gw}
	if cfg.AdminListen != "" {
		adm, err := listen(cfg.AdminListen, adminHandler(eng, usage, op), cfg.Server, calls)
		if err != nil {
			cannotListen(log, cfg, "admin_listen", err)
			gw.srv.Close()
			eng.Close(context.Background())
			return 1
		}
		servers = append(servers, adm)
	}
	watchConfig(ctx, hup, op, eng, fs)
	// Logged before the first answer: whoever sees /healthz answer can
	// read the serving line (the listeners hold connections until then).
	log.Info("tollgate is serving", "listen", "http://"+gw.ln.Addr().String(), "admin", adminAddr(servers),
		"stages", len(cfg.Pipeline), "config", configSource(fs), "sysmon_awake", awake, "procs", procsMode, "fsync", fsyncMode())
	failed := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		}()
	}
	code := 0
	signalled := false
	select {
	case <-ctx.Done():
		signalled = true
		log.Info("shutting down: finishing calls in flight and flushing usage (a second SIGINT or SIGTERM cuts this short)",
			"deadline", cfg.Server.ShutdownTimeout.String()) // "30s", not JSON's nanoseconds
	case err := <-failed:
		log.Error("server failed", "err", err)
		code = 1
	}
	// Two bounds (core.WithPersistContext): persist bounds saving usage,
	// server.shutdown_timeout; wait bounds waiting for calls and sinks. It
	// ends a little earlier, so that the calls it cuts still have time to
	// hand their usage off and have it saved, and a second signal ends it
	// at once.
	persist, cancel := shutdownContext(cfg.Server.ShutdownTimeout)
	defer cancel()
	wait, cutShort := context.WithCancelCause(persist)
	defer cutShort(nil)
	if d := cfg.Server.ShutdownTimeout; d > 0 {
		var stopWaiting context.CancelFunc
		wait, stopWaiting = context.WithTimeoutCause(wait, d-saveReserve(d), errShutdownTimeout)
		defer stopWaiting()
	}
	giveUp := func() {
		lost := usage.Stats().InMemory
		log.Error("third signal: exiting now, without waiting for usage to be saved", "events_in_memory_lost", lost)
		os.Exit(1)
	}
	defer shortenOnSignal(stops, signalled, log, func() { cutShort(errSecondSignal) }, giveUp)()
	for _, s := range servers {
		if err := s.srv.Shutdown(wait); err != nil {
			log.Warn("calls still in flight were cut", "addr", s.ln.Addr().String(), "cause", context.Cause(wait))
			cutCalls(context.Cause(wait))
			s.srv.Close()
		}
	}
	if err := eng.Close(core.WithPersistContext(wait, persist)); err != nil {
		log.Error("usage not fully flushed at shutdown", "err", err)
		code = 1
	}
	op.shutdown(wait)
	log.Info("tollgate stopped")
	return code
}

// Why a shutdown stopped waiting for calls and sinks.
var (
	errSecondSignal    = errors.New("a second SIGINT or SIGTERM")
	errShutdownTimeout = errors.New("the shutdown's time for calls ran out (server.shutdown_timeout, less the time kept to save usage)")
)

// saveReserve is the part of a shutdown_timeout d kept, after the calls
// still in flight are cut, for them to hand their usage off and for it to
// be saved: a fifth of d, at most 5 s (a commit takes milliseconds; the
// rest is room for a slow disk).
func saveReserve(d time.Duration) time.Duration { return min(d/5, 5*time.Second) }

// shortenOnSignal calls cutShort on the first SIGINT or SIGTERM from
// stops after the one that began the shutdown (already sent to stops when
// signalled), and giveUp on the one after that: an operator's last word,
// for a shutdown that saving usage still holds (a disk that does not
// answer, a shutdown_timeout of 0). It returns a func that stops the watch.
func shortenOnSignal(stops <-chan os.Signal, signalled bool, log *slog.Logger, cutShort, giveUp func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		if signalled {
			select {
			case <-stops:
			case <-done:
				return
			}
		}
		select {
		case sig := <-stops:
			log.Warn("second signal: cutting the shutdown short; calls in flight are cut and sinks stop delivering, "+
				"usage in memory is saved, undelivered events stay queued for the next start (a third signal exits at once)", "signal", sig.String())
			cutShort()
		case <-done:
			return
		}
		select {
		case <-stops:
			giveUp()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// cannotListen logs a listener that did not open, naming the setting and
// where it was set, since the address alone does not say which to fix.
func cannotListen(log *slog.Logger, cfg *config.Config, key string, err error) {
	from := cfg.Source(key)
	if from == "" {
		from = "the default"
	}
	log.Error("cannot listen on the address "+key+" sets", "setting", key, "set_by", from, "err", err)
}

// server is a listener and the HTTP server on it.
type server struct {
	ln  net.Listener
	srv h1server.Engine
}

// listen opens a listener with the hardened server settings, served by
// the engine server.engine names; its requests' contexts derive from calls.
func listen(addr string, h http.Handler, sc config.ServerConfig, calls context.Context) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &server{ln: ln, srv: newHTTPServer(&http.Server{
		// No WriteTimeout: it would cut every stream that runs longer. The
		// body's deadline is set per request by bodyDeadline.
		Handler:           bodyDeadline(h, sc.ReadBodyTimeout, slog.Default()),
		ReadHeaderTimeout: sc.ReadHeaderTimeout,
		IdleTimeout:       sc.IdleTimeout,
		MaxHeaderBytes:    sc.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return calls },
	}, sc.Engine)}, nil
}

// newHTTPServer returns std itself for the standard engine, and
// tollgate's own server with std's settings otherwise: it spares each
// call the goroutine hand-offs of net/http's per-request background
// read (docs/benchmarks.md, the proxy hop at c=1).
func newHTTPServer(std *http.Server, engine string) h1server.Engine {
	if engine == config.EngineStandard {
		return std
	}
	return h1server.FromStandard(std)
}

func shutdownContext(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), d)
}

func adminAddr(servers []*server) string {
	if len(servers) < 2 {
		return "off"
	}
	return "http://" + servers[1].ln.Addr().String()
}

func configSource(fs interface{ GetString(string) (string, error) }) string {
	if p, _ := fs.GetString("config"); p != "" {
		return p
	}
	return "embedded default"
}

// startGCFloor keeps the collector's heap goal headroom bytes above the
// live heap while the gateway serves (internal/gcfloor: fewer collections
// at low load, the c=1 p99). A GOGC in the environment is the operator's
// choice and wins.
func startGCFloor(headroom int64, log *slog.Logger) (stop func()) {
	stop, gogc := gcfloor.ForServer(headroom)
	if gogc != "" {
		log.Info("GOGC is set: server.gc_headroom_bytes is not applied", "GOGC", gogc)
	}
	return stop
}
