package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// Allocs is what the profiled gateway allocated over its warm-up and run.
type Allocs struct {
	Calls        int64   `json:"calls"`
	AllocBytes   uint64  `json:"alloc_bytes"`
	BytesPerCall float64 `json:"bytes_per_call"`
	Collections  uint64  `json:"collections"`
}

// Profile runs the gateway built with profiling (loadtest/cmd/gatewayprof)
// under load and writes its CPU profile. It returns the wrk figures of
// the profiled run and what the gateway allocated.
func Profile(ctx context.Context, o ProfileOptions) (Sample, Allocs, error) {
	var a Allocs
	if o.Nice != 0 {
		if err := setNice(o.Nice); err != nil {
			return Sample{}, a, fmt.Errorf("setting the priority to %d: %v", o.Nice, err)
		}
	}
	work, err := os.MkdirTemp("", "tollgate-profile")
	if err != nil {
		return Sample{}, a, err
	}
	defer os.RemoveAll(work)
	env := baseEnv()
	up, err := startProc("upstream", o.Upstream, nil, env, work, filepath.Join(work, "upstream.log"), addrPrinted)
	if err != nil {
		return Sample{}, a, err
	}
	defer up.stop()
	cpu, _ := filepath.Abs(o.CPUProfile)
	allocs := filepath.Join(work, "allocs.json")
	extra := []string{"LOADTEST_CPUPROFILE=" + cpu, "LOADTEST_ALLOCS=" + allocs}
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
		return Sample{}, a, err
	}
	defer gw.stop()
	t := &target{res: &Target{Name: o.Config.Name}, url: "http://" + gw.addr + "/v1/chat/completions", proc: gw}
	if err := smoke(ctx, newStreamClient(4), t.url); err != nil {
		return Sample{}, a, err
	}
	if o.Warmup > 0 {
		if _, err := (wrkRun{URL: t.url, Threads: 2, Conns: 16, Duration: o.Warmup, MaxRequests: 200_000 * int64(o.Warmup/time.Second+1), Dir: work, Body: Body}).run(ctx); err != nil {
			return Sample{}, a, err
		}
	}
	s, err := measure(ctx, t, up, o.Concurrency, o.Duration, work)
	if err != nil {
		return s, a, err
	}
	if err := gw.stop(); err != nil {
		return s, a, fmt.Errorf("stopping the gateway: %w", err)
	}
	b, err := os.ReadFile(allocs)
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		return s, a, fmt.Errorf("reading the gateway's allocation figures: %v", err)
	}
	return s, a, nil
}
