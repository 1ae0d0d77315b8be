// Command gatewayprof serves the gateway as `tollgate serve` does (the same
// config loading, engine and server settings) and writes a CPU profile of
// its whole life, plus a heap profile at exit, for `loadtest profile`. It
// accepts the arguments of `tollgate serve`; the profile paths come from
// LOADTEST_CPUPROFILE and LOADTEST_MEMPROFILE.
//
// SIGUSR1 writes a heap profile at that moment, to LOADTEST_MEMPROFILE
// with ".1", ".2"... appended.
//
// LOADTEST_ALLOCS names a file that gets, at exit, the calls served, the
// bytes allocated in all (and per call) and the collections.
//
// LOADTEST_TRACE names a file for a runtime execution trace of a window of
// its life, LOADTEST_TRACE_WINDOW ("5s+2s": from 5s after start, for 2s):
// where a call waits (goroutine wake-ups, network, syscalls), which a CPU
// profile does not show.
//
// It exists because the host binary has no profiling endpoint: the load
// harness profiles the same code under the same load without adding one.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/gcfloor"
	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/logging"
	"github.com/tollgate-dev/tollgate/internal/procs"
	"github.com/tollgate-dev/tollgate/internal/sysmon"
	"github.com/tollgate-dev/tollgate/tracking"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := pflag.NewFlagSet("gatewayprof", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringP("config", "c", "", "config file (YAML); without it, the embedded default")
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, _ := fs.GetString("config")
	cfg, err := config.Load(config.Options{Path: path, Flags: fs})
	if err != nil {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	// server.sysmon_awake restarts in place, as tollgate serve does.
	if cfg.Server.SysmonAwake {
		if err := sysmon.Exec(); err != nil {
			fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
			return 1
		}
	}
	sysmon.Unset()
	log, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format, "sk-load")
	if err != nil {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	slog.SetDefault(log)
	if p := os.Getenv("LOADTEST_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if p := os.Getenv("LOADTEST_TRACE"); p != "" {
		if err := traceWindow(p, os.Getenv("LOADTEST_TRACE_WINDOW")); err != nil {
			fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
			return 1
		}
	}
	usage, err := tracking.Open(cfg.DataDir, tracking.WithLogger(log))
	if err != nil {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	defer usage.Close()
	eng, err := tollgate.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	defer eng.Close(context.Background())
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	counter := newAllocCounter(eng.Handler())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var srv h1server.Engine = &http.Server{
		Handler:           followLoad(ctx, cfg.Server.ProcsFollowLoad, counter),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// server.engine picks the server, as in `tollgate serve`.
	if cfg.Server.Engine != config.EngineStandard {
		srv = h1server.FromStandard(srv.(*http.Server))
	}
	// and server.gc_headroom_bytes the collector's floor, as it does there.
	stopFloor, _ := gcfloor.ForServer(cfg.Server.GCHeadroomBytes)
	defer stopFloor()
	if p := os.Getenv("LOADTEST_MEMPROFILE"); p != "" {
		heapProfileOnSignal(p)
	}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	// The line and field tollgate serve logs: the harness reads the
	// address from it.
	log.Info("tollgate is serving", "listen", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		return 1
	}
	if p := os.Getenv("LOADTEST_ALLOCS"); p != "" {
		if err := counter.write(p); err != nil {
			fmt.Fprintf(stderr, "gatewayprof: %v\n", err)
		}
	}
	if p := os.Getenv("LOADTEST_MEMPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	return 0
}

// followLoad moves GOMAXPROCS with the calls in flight through h, as
// tollgate serve does with server.procs_follow_load (cmd/host/procs.go).
func followLoad(ctx context.Context, on bool, h http.Handler) http.Handler {
	if !on {
		return h
	}
	var active atomic.Int64
	f, _ := procs.Start(ctx, time.Second, active.Load, slog.Default())
	if f == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if active.Add(1) > 1 {
			f.Overlap()
		}
		defer active.Add(-1)
		h.ServeHTTP(w, r)
	})
}
