package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/loadtest"
)

// defaultConfigs are the rows measured unless --configs says otherwise:
// the embedded default pipeline, the same without its track stage (the
// difference is what durable tracking costs) and with the call stage on
// net/http's transport (what the inline one saves), then the default plus
// one stage each.
const defaultConfigs = "default=,no-tracking=loadtest/configs/notrack.yaml,standard-transport=loadtest/configs/standard-transport.yaml,rego=loadtest/configs/rego.yaml,wasm=loadtest/configs/wasm.yaml,cache-hit=loadtest/configs/cache.yaml"

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := loadtest.DefaultOptions()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repo `dir`")
	bin := fs.String("bin", "bin", "`dir` holding tollgate, loadtest-upstream, loadtest-bareproxy and loadtest-relay")
	out := fs.String("out", "loadtest/results", "`dir` for the result file <date>.json")
	configs := fs.String("configs", defaultConfigs, "gateway configs to measure: `name=path,...` (empty path: the embedded default)")
	var envs []string
	fs.Func("env", "add KEY=VALUE to the environment of the gateway of config NAME: `NAME:KEY=VALUE` (repeatable; e.g. asleep:TOLLGATE_SERVER__SYSMON_AWAKE=false to compare a setting in one run)", func(s string) error {
		envs = append(envs, s)
		return nil
	})
	var binaries []string
	fs.Func("binary", "run the gateway of config NAME from another build: `NAME:PATH` (repeatable; e.g. old:/tmp/old/tollgate beside a default row to compare two builds in one run)", func(s string) error {
		binaries = append(binaries, s)
		return nil
	})
	conc := fs.String("concurrency", "1,16,64", "wrk connection `counts`")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "repeat every measurement this many `times`; figures are medians")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long each target runs at each concurrency in a round")
	fs.IntVar(&o.Slices, "slices", o.Slices, "cut each --duration into this many wrk runs of whole seconds, the targets taking turns slice by slice (1: one run each)")
	fs.IntVar(&o.SliceWarmup, "slice-warmup", o.SliceWarmup, "untimed `calls`, one after another, before each slice (with --slices above 1)")
	fs.BoolVar(&o.PauseOthers, "pause-others", o.PauseOthers, "stop (SIGSTOP) the other proxies and gateways while a target is measured, so their idle wake-ups do not share its cores (off: all run throughout, as in the runs in docs/benchmarks.md)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up per target")
	fs.IntVar(&o.TTFBStreams, "ttfb-streams", o.TTFBStreams, "sequential streams per target and round (time to first byte)")
	fs.IntVar(&o.Streams, "streams", o.Streams, "concurrent streams per target (memory); 0 skips")
	fs.DurationVar(&o.ChunkDelay, "chunk-delay", o.ChunkDelay, "upstream pause between stream events for the concurrent streams")
	fs.IntVar(&o.Nice, "nice", 0, "run the harness and everything it starts at this `priority` (-20..19; negative needs root) so a busy machine's other work yields")
	gateway := fs.String("gateway", "tollgate", "the gateway `binary` in --bin (loadtest-gatewayprof profiles it; implies --no-validate)")
	quick := fs.Bool("quick", false, "one short round, for trying the harness (figures not for the docs)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *quick {
		o.Rounds, o.Duration, o.Slices, o.Warmup, o.TTFBStreams = 1, 2*time.Second, 1, time.Second, 200
	}
	var err error
	if o.Concurrencies, err = parseInts(*conc); err != nil {
		fmt.Fprintf(stderr, "loadtest: --concurrency: %v\n", err)
		return 2
	}
	if o.Configs, err = parseConfigs(*configs); err != nil {
		fmt.Fprintf(stderr, "loadtest: --configs: %v\n", err)
		return 2
	}
	if err := addEnv(o.Configs, envs); err != nil {
		fmt.Fprintf(stderr, "loadtest: --env: %v\n", err)
		return 2
	}
	if err := setBinaries(o.Configs, binaries); err != nil {
		fmt.Fprintf(stderr, "loadtest: --binary: %v\n", err)
		return 2
	}
	if o.Rounds < 1 || o.Slices < 1 || o.Duration < time.Second || o.Duration > 5*time.Minute || o.Streams > 10000 {
		fmt.Fprintln(stderr, "loadtest: want --rounds ≥ 1, --slices ≥ 1, --duration between 1s and 5m, --streams ≤ 10000")
		return 2
	}
	o.Root, _ = filepath.Abs(*root)
	abs := func(name string) string { p, _ := filepath.Abs(filepath.Join(*bin, name)); return p }
	o.Gateway, o.Upstream, o.BareProxy, o.Relay = abs(*gateway), abs("loadtest-upstream"), abs("loadtest-bareproxy"), abs("loadtest-relay")
	o.NoValidate = *gateway != "tollgate"
	o.Log = stderr

	res, err := loadtest.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	path := filepath.Join(*out, res.Date.Format("2006-01-02T150405Z")+".json")
	if *quick {
		path = filepath.Join(*bin, "loadtest-quick.json") // not a result for the doc
	}
	if err := loadtest.WriteResult(path, res); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "loadtest: results in %s\n", path)
	loadtest.Summary(stdout, res)
	return 0
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &n); err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("want numbers from 1 to 1024 separated by commas, got %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// addEnv adds each NAME:KEY=VALUE of envs to config NAME's environment.
func addEnv(configs []loadtest.NamedConfig, envs []string) error {
	for _, e := range envs {
		name, kv, ok := strings.Cut(e, ":")
		key, _, hasValue := strings.Cut(kv, "=")
		if !ok || name == "" || !hasValue || key == "" {
			return fmt.Errorf("want NAME:KEY=VALUE, got %q", e)
		}
		c, err := configNamed(configs, name, e)
		if err != nil {
			return err
		}
		c.Env = append(c.Env, kv)
	}
	return nil
}

// setBinaries sets config NAME's gateway binary for each NAME:PATH of
// binaries: an executable file, made absolute.
func setBinaries(configs []loadtest.NamedConfig, binaries []string) error {
	for _, b := range binaries {
		name, path, ok := strings.Cut(b, ":")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("want NAME:PATH, got %q", b)
		}
		c, err := configNamed(configs, name, b)
		if err != nil {
			return err
		}
		if c.Binary != "" {
			return fmt.Errorf("%q: config %q already has the binary %s", b, name, c.Binary)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("%q: %v", b, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("%q: %v", b, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%q: %s is not an executable file", b, abs)
		}
		c.Binary = abs
	}
	return nil
}

// configNamed is the config a flag's value arg names, for changing in place.
func configNamed(configs []loadtest.NamedConfig, name, arg string) (*loadtest.NamedConfig, error) {
	i := slices.IndexFunc(configs, func(c loadtest.NamedConfig) bool { return c.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("%q: no config named %q in --configs", arg, name)
	}
	return &configs[i], nil
}

func parseConfigs(s string) ([]loadtest.NamedConfig, error) {
	var out []loadtest.NamedConfig
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || seen[name] {
			return nil, fmt.Errorf("want name=path pairs with distinct names, got %q", f)
		}
		seen[name] = true
		out = append(out, loadtest.NamedConfig{Name: name, Path: path})
	}
	return out, nil
}
