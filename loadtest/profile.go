package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ProfileOptions say what to profile: one gateway config under wrk at one
// concurrency.
type ProfileOptions struct {
	Options     // Gateway is the gatewayprof binary
	Config      NamedConfig
	Concurrency int
	CPUProfile  string // output path
	MemProfile  string // output path, or ""
	Trace       string // execution trace output path, or ""
	TraceWindow string // START+LENGTH after the gateway starts; "" is 2s after the warm-up
}

// Profile runs the gateway built with profiling (loadtest/cmd/gatewayprof)
// under load and writes its CPU profile. It returns the wrk figures of
// the profiled run.
func Profile(ctx context.Context, o ProfileOptions) (Sample, error) {
	if o.Nice != 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, o.Nice); err != nil {
			return Sample{}, fmt.Errorf("setting the priority to %d: %v", o.Nice, err)
		}
	}
	work, err := os.MkdirTemp("", "tollgate-profile")
	if err != nil {
		return Sample{}, err
	}
	defer os.RemoveAll(work)
	env := baseEnv()
	up, err := startProc("upstream", o.Upstream, nil, env, work, filepath.Join(work, "upstream.log"), "", true)
	if err != nil {
		return Sample{}, err
	}
	defer up.stop()
	cpu, _ := filepath.Abs(o.CPUProfile)
	extra := []string{"LOADTEST_CPUPROFILE=" + cpu}
	if o.MemProfile != "" {
		mem, _ := filepath.Abs(o.MemProfile)
		extra = append(extra, "LOADTEST_MEMPROFILE="+mem)
	}
	if o.Trace != "" {
		tr, _ := filepath.Abs(o.Trace)
		window := o.TraceWindow
		if window == "" {
			window = (o.Warmup + 2*time.Second).String() + "+2s"
		}
		extra = append(extra, "LOADTEST_TRACE="+tr, "LOADTEST_TRACE_WINDOW="+window)
	}
	gw, err := startGateway(ctx, o.Options, o.Config, env, "http://"+up.addr, work, extra...)
	if err != nil {
		return Sample{}, err
	}
	defer gw.stop()
	t := &target{res: &Target{Name: o.Config.Name}, url: "http://" + gw.addr + "/v1/chat/completions", proc: gw}
	if err := smoke(ctx, newStreamClient(4), t.url); err != nil {
		return Sample{}, err
	}
	if o.Warmup > 0 {
		if _, err := (wrkRun{URL: t.url, Threads: 2, Conns: 16, Duration: o.Warmup, MaxRequests: 200_000 * int64(o.Warmup/time.Second+1), Dir: work, Body: Body}).run(ctx); err != nil {
			return Sample{}, err
		}
	}
	s, err := measure(ctx, t, up, o.Concurrency, o.Duration, work)
	if err != nil {
		return s, err
	}
	if err := gw.stop(); err != nil {
		return s, fmt.Errorf("stopping the gateway: %w", err)
	}
	return s, nil
}
