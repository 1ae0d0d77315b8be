package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tollgate-dev/tollgate/loadtest"
)

// profileCmd profiles one gateway config under load and prints the top of
// the CPU profile.
func profileCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := loadtest.ProfileOptions{Options: loadtest.DefaultOptions()}
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repo `dir`")
	bin := fs.String("bin", "bin", "`dir` holding loadtest-gatewayprof and loadtest-upstream")
	cfg := fs.String("config", "default=", "the gateway config: `name=path` (empty path: the embedded default)")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "wrk connections")
	fs.DurationVar(&o.Duration, "duration", 15*time.Second, "length of the profiled wrk run")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "warm-up before it (profiled too)")
	fs.IntVar(&o.Nice, "nice", 0, "scheduling `priority` of the harness and what it starts (see run -h)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "bin/gateway.cpu.pprof", "CPU profile `file`")
	fs.StringVar(&o.MemProfile, "memprofile", "bin/gateway.mem.pprof", "heap profile `file` written at exit")
	fs.StringVar(&o.Trace, "trace", "", "execution trace `file` of a window of the run (go tool trace; -pprof=sched shows wake-up delays)")
	fs.StringVar(&o.TraceWindow, "trace-window", "", "the traced window, START+LENGTH after the gateway starts (default: 2s of the measured run, after the warm-up)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ncs, err := parseConfigs(*cfg)
	if err != nil || len(ncs) != 1 {
		fmt.Fprintln(stderr, "loadtest profile: --config: want one name=path")
		return 2
	}
	o.Config = ncs[0]
	o.Root, _ = filepath.Abs(*root)
	abs := func(name string) string { p, _ := filepath.Abs(filepath.Join(*bin, name)); return p }
	o.Gateway, o.Upstream, o.NoValidate = abs("loadtest-gatewayprof"), abs("loadtest-upstream"), true
	s, a, err := loadtest.Profile(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest profile: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "profiled %s at c=%d: %.0f req/s, p50 %.0fµs p99 %.0fµs, %.1f µs CPU per request; profile in %s\n",
		o.Config.Name, o.Concurrency, s.RPS, s.P50, s.P99, s.CPUPerReq, o.CPUProfile)
	fmt.Fprintf(stdout, "the gateway allocated %.0f bytes per call over %d calls (warm-up included) and collected %d times (%.1f per 1000 calls)\n",
		a.BytesPerCall, a.Calls, a.Collections, 1000*float64(a.Collections)/float64(max(a.Calls, 1)))
	top := exec.Command("go", "tool", "pprof", "-top", "-nodecount", "40", o.CPUProfile)
	top.Stdout, top.Stderr = stdout, stderr
	top.Run()
	return 0
}
