package loadtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"time"
)

// NamedConfig is a gateway config to measure, one row of the report.
// An empty Path is the embedded default config, as `tollgate serve` runs
// without --config. A config file is a text/template: {{root}} is the repo
// root and {{sha256 "path"}} the hex sha256 of a file under it.
type NamedConfig struct {
	Name   string
	Path   string
	Env    []string // KEY=VALUE added to the gateway's environment
	Binary string   // the gateway binary for this row; empty: Options.Gateway
}

// Options are the knobs of a harness run.
type Options struct {
	Root      string // repo root
	Gateway   string // the tollgate binary
	Upstream  string // the lean upstream binary
	BareProxy string // the bare reverse proxy binary
	Relay     string // the TCP relay binary, the floor of any proxy; empty: not measured
	// NoValidate skips `Gateway validate` before a start (gatewayprof has
	// no validate command).
	NoValidate bool

	Configs       []NamedConfig
	Concurrencies []int         // e.g. 1, 16, 64
	Rounds        int           // repeats; figures are medians over rounds
	Duration      time.Duration // of a target's run at one concurrency in a round
	// Slices cuts each such run into this many wrk runs of whole seconds,
	// the targets taking turns slice by slice, so that a slow spell of a
	// shared machine falls on every target alike rather than on whichever
	// ran then. A round's percentiles come from the slices' pooled
	// latency histograms. 1: one wrk run per target, one after another.
	Slices int
	// SliceWarmup is how many calls, one after another, a target answers
	// untimed before each of its slices when there are several: a
	// target's first calls after the others' turns find its caches cold,
	// which a run that never paused would not.
	SliceWarmup int
	// PauseOthers stops (SIGSTOP) every other proxy and gateway while a
	// target is measured, and continues it for its own turn: idle, each
	// still wakes up on its own (the Go runtime's monitor, the usage
	// writer's and the load follower's tickers), and on a 2-core machine
	// those wake-ups land on the cores the measured calls use. A gateway
	// in production does not share its host with eight idle ones. The
	// upstream always runs. Off by default: measured, it moved the c=1
	// p50 and CPU per call a little and the p99 not beyond the rounds'
	// spread (docs/benchmarks.md), and the runs kept there are without it.
	PauseOthers bool
	Warmup      time.Duration // of the warm-up run per target
	TTFBStreams int           // sequential streams per target and round
	Streams     int           // concurrent streams per target (memory)
	ChunkDelay  time.Duration // pacing of the concurrent streams
	// Nice, if not 0, is the scheduling priority (-20..19) of the harness
	// and every process it starts: a negative one (root only) makes a
	// shared, busy machine's other work yield to the measurement.
	Nice int
	Log  io.Writer
}

// DefaultOptions are the settings `make loadtest` uses.
func DefaultOptions() Options {
	return Options{
		Concurrencies: []int{1, 16, 64},
		Rounds:        3,
		Duration:      8 * time.Second,
		Slices:        8,
		SliceWarmup:   200,
		Warmup:        3 * time.Second,
		TTFBStreams:   1000,
		Streams:       1000,
		ChunkDelay:    250 * time.Millisecond,
		Log:           os.Stderr,
	}
}

// target is a running thing under load.
type target struct {
	res  *Target
	url  string
	proc *proc
}

// Run runs the harness and returns its result. It starts and stops every
// process itself; ctx cancels the run.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "loadtest: "+format+"\n", a...) }
	if o.Nice != 0 {
		// Children inherit it: wrk, the upstream, the proxies.
		if err := setNice(o.Nice); err != nil {
			return nil, fmt.Errorf("setting the priority to %d: %v", o.Nice, err)
		}
	}
	if o.PauseOthers && !canPause {
		return nil, errors.New("pause-others: stopping a process needs a Unix system")
	}
	nSlices, slice := cut(o.Duration, o.Slices)
	work, err := os.MkdirTemp("", "tollgate-loadtest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	res := &Result{
		Date:    time.Now().UTC().Truncate(time.Second),
		Commit:  gitCommit(o.Root),
		Machine: machine(),
		Settings: Settings{
			Rounds: o.Rounds, Duration: Duration(o.Duration), Warmup: Duration(o.Warmup),
			Concurrencies: o.Concurrencies, BodyBytes: len(Body), Nice: o.Nice, Slices: nSlices, SliceWarmup: o.SliceWarmup,
			PauseOthers: o.PauseOthers,
			TTFBStreams: o.TTFBStreams, Streams: o.Streams, ChunkDelay: Duration(o.ChunkDelay),
		},
	}
	res.Settings.StreamEvents = NewCanned().Events()

	env := baseEnv()
	up, err := startProc("upstream", o.Upstream, nil, env, work, filepath.Join(work, "upstream.log"), addrPrinted)
	if err != nil {
		return nil, err
	}
	procs := []*proc{up}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	upURL := "http://" + up.addr
	logf("upstream on %s", upURL)

	targets := []*target{{res: &Target{Name: "direct", Kind: KindDirect}, url: upURL + "/v1/chat/completions", proc: up}}
	bare, err := startProc("bareproxy", o.BareProxy, []string{"--upstream", upURL}, env, work, filepath.Join(work, "bareproxy.log"), addrPrinted)
	if err != nil {
		return nil, err
	}
	procs = append(procs, bare)
	targets = append(targets, &target{res: &Target{Name: "bare proxy", Kind: KindBare}, url: "http://" + bare.addr + "/v1/chat/completions", proc: bare})
	if o.Relay != "" {
		relay, err := startProc("relay", o.Relay, []string{"--upstream", upURL}, env, work, filepath.Join(work, "relay.log"), addrPrinted)
		if err != nil {
			return nil, err
		}
		procs = append(procs, relay)
		targets = append(targets, &target{res: &Target{Name: "tcp relay", Kind: KindRelay}, url: "http://" + relay.addr + "/v1/chat/completions", proc: relay})
	}

	for _, nc := range o.Configs {
		t := &Target{Name: nc.Name, Kind: KindGateway, Config: nc.Path, Env: nc.Env, Binary: nc.Binary}
		if nc.Path == "" {
			t.Config = "embedded default"
		}
		p, err := startGateway(ctx, o, nc, env, upURL, work)
		if err != nil {
			t.Skipped = err.Error()
			logf("%s: skipped: %v", nc.Name, err)
			res.Targets = append(res.Targets, *t)
			continue
		}
		procs = append(procs, p)
		targets = append(targets, &target{res: t, url: "http://" + p.addr + "/v1/chat/completions", proc: p})
	}

	// Smoke: each target answers a call and a stream correctly, then idle RSS.
	client := newStreamClient(o.Streams + 16)
	var live []*target
	for _, t := range targets {
		if err := smoke(ctx, client, t.url); err != nil {
			t.res.Skipped = "smoke test failed: " + err.Error()
			logf("%s: %s", t.res.Name, t.res.Skipped)
			continue
		}
		live = append(live, t)
	}
	time.Sleep(time.Second)
	for _, t := range live {
		if ps, err := ReadProc(t.proc.pid()); err == nil {
			t.res.IdleRSSKB, t.res.IdleAnonKB = ps.RSSKB, ps.AnonKB
		}
	}
	res.Machine.LoadBefore = LoadAvg()
	logf("load average before: %.2f %.2f %.2f", res.Machine.LoadBefore[0], res.Machine.LoadBefore[1], res.Machine.LoadBefore[2])

	// Warm-up: connections, pools, JIT-free but cache- and GC-warm.
	for _, t := range live {
		if o.Warmup <= 0 {
			break
		}
		focus(o, live, t, up)
		logf("%s: warm-up %v", t.res.Name, o.Warmup)
		if _, err := (wrkRun{URL: t.url, Threads: 2, Conns: 16, Duration: o.Warmup, MaxRequests: 200_000 * int64(o.Warmup/time.Second+1), Dir: work, Body: Body}).run(ctx); err != nil {
			return nil, err
		}
	}

	for _, t := range live {
		for _, c := range o.Concurrencies {
			t.res.HTTP = append(t.res.HTTP, HTTPRuns{Concurrency: c})
		}
	}
	for round := range o.Rounds {
		for ci, c := range o.Concurrencies {
			parts := make(map[*target][]Sample, len(live))
			for sl := range nSlices {
				for k := range live {
					t := live[(k+round+sl)%len(live)] // rotate so no target always runs first
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					focus(o, live, t, up)
					if nSlices > 1 {
						warm(ctx, client, t.url, o.SliceWarmup)
					}
					s, err := measure(ctx, t, up, c, slice, work)
					if err != nil {
						return nil, fmt.Errorf("%s at c=%d: %w", t.res.Name, c, err)
					}
					parts[t] = append(parts[t], s)
				}
			}
			for k := range live {
				t := live[(k+round)%len(live)]
				s := pool(parts[t])
				t.res.HTTP[ci].Rounds = append(t.res.HTTP[ci].Rounds, s)
				logf("round %d/%d c=%-3d %-14s %8.0f req/s  p50 %6.0fµs p99 %6.0fµs  cpu %5.1fµs/req  rss %5.1f MB  errors %d",
					round+1, o.Rounds, c, t.res.Name, s.RPS, s.P50, s.P99, s.CPUPerReq, float64(s.MaxRSSKB)/1024, s.Errors)
			}
		}
		for k := range live {
			t := live[(k+round)%len(live)]
			if focus(o, live, t, up) {
				warm(ctx, client, t.url, o.SliceWarmup)
			}
			sr := streamRun{URL: t.url, N: o.TTFBStreams, Concurrency: 1, MaxDuration: 30 * time.Second}.run(ctx, client)
			t.res.TTFB = append(t.res.TTFB, sr)
			logf("round %d/%d streams %-14s ttfb p50 %6.0fµs p99 %6.0fµs  ok %d errors %d",
				round+1, o.Rounds, t.res.Name, sr.TTFBP50, sr.TTFBP99, sr.OK, sr.Errors)
		}
	}

	// Memory under many concurrent streams, one target at a time.
	if o.Streams > 0 {
		for _, t := range live {
			focus(o, live, t, up)
			n := o.Streams
			sc := newStreamClient(n + 16)
			rs := sampleRSS(t.proc.pid(), 50*time.Millisecond)
			life := o.ChunkDelay * time.Duration(max(res.Settings.StreamEvents-1, 1))
			sr := streamRun{URL: t.url, N: n, Concurrency: n, ChunkDelay: o.ChunkDelay, Ramp: time.Second,
				MaxDuration: life + 60*time.Second}.run(ctx, sc)
			sr.MaxRSSKB, sr.MaxAnonKB = rs.Stop()
			sc.CloseIdleConnections()
			t.res.Streams = &sr
			logf("%-14s %d concurrent streams: ok %d errors %d peak open %d, max rss %.1f MB, ttfb p50 %.0fµs p99 %.0fµs",
				t.res.Name, n, sr.OK, sr.Errors, sr.PeakOpen, float64(sr.MaxRSSKB)/1024, sr.TTFBP50, sr.TTFBP99)
			if sr.FirstError != "" {
				logf("%s: first stream error: %s", t.res.Name, sr.FirstError)
			}
		}
	}
	client.CloseIdleConnections()
	for _, t := range live {
		t.proc.resume()
	}

	res.Machine.LoadAfter = LoadAvg()
	for _, t := range live {
		if ps, err := ReadProc(t.proc.pid()); err == nil {
			t.res.PeakHWMKB = ps.HWMKB
		}
		if !t.proc.alive() {
			t.res.Notes = append(t.res.Notes, "process exited during the run")
		}
	}
	for _, t := range targets {
		res.Targets = append(res.Targets, *t.res)
	}
	sortTargets(res, o.Configs)
	return res, nil
}

// focus lets t's process run and, with PauseOthers, stops every other
// proxy and gateway; it reports whether any process was continued (whose
// first calls then find cold caches).
func focus(o Options, live []*target, t *target, up *proc) (resumed bool) {
	if !o.PauseOthers {
		return false
	}
	for _, u := range live {
		if u.proc != up && u != t {
			u.proc.pause()
		}
	}
	resumed = t.proc.paused
	t.proc.resume()
	return resumed
}

// cut divides d into at most n slices of whole seconds (wrk's -d), at
// least one: how many, and how long each.
func cut(d time.Duration, n int) (int, time.Duration) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	n = max(1, min(n, secs))
	return n, time.Duration(secs/n) * time.Second
}

// measure runs wrk once against t at concurrency c, with the CPU each
// process spent and the largest resident memory seen.
func measure(ctx context.Context, t *target, up *proc, c int, d time.Duration, work string) (Sample, error) {
	threads := 1
	if c > 1 {
		threads = 2
	}
	before, err := ReadProc(t.proc.pid())
	if err != nil {
		return Sample{}, fmt.Errorf("the process is gone: %v", err)
	}
	upBefore, _ := ReadProc(up.pid())
	rs := sampleRSS(t.proc.pid(), 100*time.Millisecond)
	s, err := wrkRun{URL: t.url, Threads: threads, Conns: c, Duration: d,
		MaxRequests: 200_000 * int64(d/time.Second+1), Dir: work, Body: Body}.run(ctx)
	s.MaxRSSKB, s.MaxAnonKB = rs.Stop()
	if err != nil {
		return s, err
	}
	after, _ := ReadProc(t.proc.pid())
	upAfter, _ := ReadProc(up.pid())
	if s.Requests > 0 {
		s.CPUPerReq = float64((after.CPU - before.CPU).Microseconds()) / float64(s.Requests)
		s.UpCPUPer = float64((upAfter.CPU - upBefore.CPU).Microseconds()) / float64(s.Requests)
	}
	s.LoadAvg1 = LoadAvg()[0]
	return s, nil
}

// startGateway validates and starts bin/tollgate serve with one config.
func startGateway(ctx context.Context, o Options, nc NamedConfig, env []string, upURL, work string, extraEnv ...string) (*proc, error) {
	dir := filepath.Join(work, "gw-"+slug(nc.Name))
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	var cfgArgs []string
	if nc.Path != "" {
		path, err := renderConfig(o.Root, nc.Path, dir)
		if err != nil {
			return nil, err
		}
		cfgArgs = []string{"--config", path}
	}
	env = append(env,
		"TOLLGATE_PROVIDERS__OPENAI__BASE_URL="+upURL+"/v1",
		"OPENAI_API_KEY=sk-load")
	bin, validate := o.Gateway, !o.NoValidate
	if nc.Binary != "" {
		bin, validate = nc.Binary, true // a tollgate build of its own
	}
	if validate { // else a config that does not load fails the start instead
		if out, err := runQuiet(ctx, bin, append([]string{"validate"}, cfgArgs...), env, dir); err != nil {
			return nil, fmt.Errorf("config does not validate (is its stage built yet?): %s", firstLines(out, 4))
		}
	}
	env = append(env, extraEnv...)
	env = append(env, nc.Env...)
	// The gateway binds a port of the kernel's choosing and logs it: no
	// port is picked here that another process could take before the
	// gateway binds it, and no other server on a port is mistaken for it.
	args := append([]string{"serve"}, cfgArgs...)
	args = append(args, "--listen", "127.0.0.1:0", "--admin-listen=", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json")
	return startProc("gateway "+nc.Name, bin, args, env, dir, filepath.Join(dir, "gateway.log"), addrLogged)
}

// renderConfig expands a config template into dir.
func renderConfig(root, path, dir string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tmpl, err := template.New(filepath.Base(path)).Option("missingkey=error").Funcs(template.FuncMap{
		"root":         func() string { return root },
		"stagesBefore": func(anchors ...string) ([]string, error) { return splitDefault(false, anchors...) },
		"stagesFrom":   func(anchors ...string) ([]string, error) { return splitDefault(true, anchors...) },
		"sha256": func(p string) (string, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("%v (build it first?)", err)
			}
			sum := sha256.Sum256(b)
			return hex.EncodeToString(sum[:]), nil
		},
	}).Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	dst := filepath.Join(dir, "config.yaml")
	return dst, os.WriteFile(dst, out.Bytes(), 0o644)
}

// smoke checks that url answers one call and one stream correctly.
func smoke(ctx context.Context, client *http.Client, url string) error {
	resp, err := client.Do(call(ctx, url))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"chat.completion"`)) {
		return fmt.Errorf("call: status %d: %s", resp.StatusCode, firstLines(string(b), 3))
	}
	sr := streamRun{URL: url, N: 1, Concurrency: 1, MaxDuration: 10 * time.Second}.run(ctx, client)
	if sr.OK != 1 {
		return fmt.Errorf("stream: %s", sr.FirstError)
	}
	return nil
}

// call is the chat completion wrk sends, with the same headers (wrk.lua).
func call(ctx context.Context, url string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(Body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-load")
	req.Header.Set("X-Tollgate-Customer", "acme")
	return req
}

// warm makes n calls to url, one after another, and stops at the first
// that fails: the timed run that follows counts and reports failures.
func warm(ctx context.Context, client *http.Client, url string, n int) {
	for range n {
		resp, err := client.Do(call(ctx, url))
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return
		}
	}
}

// baseEnv is the environment without TOLLGATE_ overrides from the caller.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOLLGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Wrk: wrkVersion()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	return m
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

// sortTargets puts direct, bare and the relay first, then the configs in
// their order.
func sortTargets(r *Result, cfgs []NamedConfig) {
	rank := map[string]int{}
	for i, c := range cfgs {
		rank[c.Name] = i + 3
	}
	key := func(t Target) int {
		switch t.Kind {
		case KindDirect:
			return 0
		case KindBare:
			return 1
		case KindRelay:
			return 2
		}
		return rank[t.Name]
	}
	for i := 1; i < len(r.Targets); i++ {
		for j := i; j > 0 && key(r.Targets[j]) < key(r.Targets[j-1]); j-- {
			r.Targets[j], r.Targets[j-1] = r.Targets[j-1], r.Targets[j]
		}
	}
}
