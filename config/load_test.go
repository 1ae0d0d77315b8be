package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestDefault checks that the embedded default loads, is valid and holds
// the documented values.
func TestDefault(t *testing.T) {
	c := mustLoad(t, Options{})
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:8081",
		DataDir:     "./data",
		Log:         LogConfig{Level: "info", Format: "auto"},
		Server: ServerConfig{
			MaxBodyBytes:      32 << 20,
			MaxHeaderBytes:    1 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			ReadBodyTimeout:   60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,

			MaxConcurrentRequests: 1024,
			Engine:                EngineInline,
			GCHeadroomBytes:       6 << 20,
			SysmonAwake:           true,
			ProcsFollowLoad:       true,
		},
		Customer: CustomerConfig{Header: "X-Tollgate-Customer", MetadataHeaderPrefix: "X-Tollgate-Meta-", Missing: MissingTrack},
		Providers: map[string]Provider{
			"openai":    {Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1", APIKeyEnv: "OPENAI_API_KEY"},
			"anthropic": {Name: "anthropic", Type: TypeAnthropic, BaseURL: "https://api.anthropic.com", APIKeyEnv: "ANTHROPIC_API_KEY"},
			"gemini":    {Name: "gemini", Type: TypeGemini, BaseURL: "https://generativelanguage.googleapis.com", APIKeyEnv: "GEMINI_API_KEY"},
		},
		Redis:   RedisConfig{KeyPrefix: "tollgate:", DialTimeout: time.Second, Timeout: 250 * time.Millisecond, DownFor: time.Second},
		Admin:   AdminConfig{TokenEnv: "TOLLGATE_ADMIN_TOKEN"},
		Auth:    AuthConfig{RefreshInterval: 2 * time.Second},
		Metrics: MetricsConfig{Enabled: true},
		Reload:  ReloadConfig{Watch: true, Debounce: 250 * time.Millisecond},
		Alerts:  AlertsConfig{CheckInterval: 15 * time.Second, MinInterval: 5 * time.Minute, OutboxBacklog: 10000},
	}
	got := *c
	got.env, got.src, got.Pipeline = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default =\n%+v\nwant\n%+v", got, want)
	}
	var names []string
	for _, s := range c.Pipeline {
		names = append(names, s.Name+"/"+s.Kind)
	}
	if !slices.Equal(names, []string{"validate/builtin", "call/builtin", "track/builtin"}) {
		t.Errorf("pipeline = %v", names)
	}
	sinks, _ := c.Pipeline[2].Config["sinks"].([]any)
	if len(sinks) != 1 || !reflect.DeepEqual(sinks[0], map[string]any{"type": "jsonl", "path": "data/usage.jsonl"}) {
		t.Errorf("track config = %#v", c.Pipeline[2].Config)
	}
}

// TestDefaultBytes checks that Default returns the embedded file, and a
// copy of it.
func TestDefaultBytes(t *testing.T) {
	b := Default()
	if !strings.Contains(string(b), "api_key_env: OPENAI_API_KEY") {
		t.Fatalf("Default() does not look like default.yaml:\n%s", b)
	}
	b[0] = '!'
	if Default()[0] == '!' {
		t.Error("Default() returned the embedded slice itself")
	}
}

// TestPrecedence checks defaults < file < environment < flags, key by key.
func TestPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		args    []string
		want    string
	}{
		{name: "default", want: "127.0.0.1:8080"},
		{name: "file", file: ":1001", want: ":1001"},
		{name: "env over default", environ: []string{"TOLLGATE_LISTEN=:1002"}, want: ":1002"},
		{name: "env over file", file: ":1001", environ: []string{"TOLLGATE_LISTEN=:1002"}, want: ":1002"},
		{name: "flag over file", file: ":1001", args: []string{"--listen=:1003"}, want: ":1003"},
		{name: "flag over env and file", file: ":1001", environ: []string{"TOLLGATE_LISTEN=:1002"}, args: []string{"--listen", ":1003"}, want: ":1003"},
		{name: "unset flag leaves env", file: ":1001", environ: []string{"TOLLGATE_LISTEN=:1002"}, args: []string{"--log-level=debug"}, want: ":1002"},
		{name: "empty env is ignored", file: ":1001", environ: []string{"TOLLGATE_LISTEN="}, want: ":1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Environ: tt.environ}
			if tt.file != "" {
				opts.Path = writeConfig(t, "listen: "+tt.file+"\n")
			}
			fs := pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
			RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			opts.Flags = fs
			if got := mustLoad(t, opts).Listen; got != tt.want {
				t.Errorf("listen = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMerge checks that maps merge key by key across sources, and that a
// file's providers and pipeline replace the default's whole.
func TestMerge(t *testing.T) {
	path := writeConfig(t, `log:
  format: json
server:
  idle_timeout: 1m
providers:
  openai:
    base_url: https://proxy.internal/v1
pipeline:
  - {name: call, kind: builtin}
`)
	c := mustLoad(t, Options{Path: path, Environ: []string{
		"TOLLGATE_LOG__LEVEL=debug",
		"TOLLGATE_SERVER__MAX_BODY_BYTES=1024",
		"TOLLGATE_PROVIDERS__OPENAI__API_KEY_ENV=PROXY_KEY",
	}})
	if c.Log != (LogConfig{Level: "debug", Format: "json"}) {
		t.Errorf("log = %+v", c.Log)
	}
	if c.Server.IdleTimeout != time.Minute || c.Server.MaxBodyBytes != 1024 || c.Server.ShutdownTimeout != 30*time.Second {
		t.Errorf("server = %+v", c.Server)
	}
	want := map[string]Provider{"openai": {Name: "openai", Type: TypeOpenAI, BaseURL: "https://proxy.internal/v1", APIKeyEnv: "PROXY_KEY"}}
	if !reflect.DeepEqual(c.Providers, want) {
		t.Errorf("providers = %+v, want only openai with its type from its name", c.Providers)
	}
	if len(c.Pipeline) != 1 || c.Pipeline[0].Name != "call" {
		t.Errorf("pipeline = %+v", c.Pipeline)
	}
}

// TestFlags checks the standard flags, dotted flags in both forms, a
// boolean given as a word, and flags that are not config keys.
func TestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.String("config", "", "")
	err := fs.Parse([]string{
		"--server.max-header-bytes=2048",
		"--config=/nowhere.yaml", "--admin-listen=", "--data-dir=/var/lib/tollgate",
		"--log-level=warn", "--log-format=text", "--server.idle-timeout", "90s",
		"--customer.missing=reject", "--metrics.enabled", "false", "--redis.addr=127.0.0.1:6379",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, Options{Flags: fs})
	if c.AdminListen != "" || c.DataDir != "/var/lib/tollgate" || c.Log != (LogConfig{Level: "warn", Format: "text"}) {
		t.Errorf("config = %+v", c)
	}
	if c.Server.IdleTimeout != 90*time.Second || c.Server.MaxBodyBytes != 32<<20 || c.Server.MaxHeaderBytes != 2048 ||
		c.Customer.Missing != MissingReject || c.Metrics.Enabled || c.Redis.Addr != "127.0.0.1:6379" {
		t.Errorf("server = %+v, customer = %+v, metrics = %+v, redis = %+v", c.Server, c.Customer, c.Metrics, c.Redis)
	}
	if got := c.Source("server.idle_timeout"); got != "--server.idle-timeout" {
		t.Errorf("Source(server.idle_timeout) = %q", got)
	}

	// A caller's own dotted flag sets its path too, even a wrong one.
	fs = pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.String("server.idel-timeout", "", "")
	if err := fs.Parse([]string{"--log-level=loud", "--server.idel-timeout=1s"}); err != nil {
		t.Fatal(err)
	}
	_, ps := loadProblems(t, Options{Flags: fs})
	if p := findProblem(t, ps, "log.level"); p.Source != "--log-level" {
		t.Errorf("source = %q, want --log-level", p.Source)
	}
	if p := findProblem(t, ps, "server.idel_timeout"); p.Source != "--server.idel-timeout" || !strings.Contains(p.Message, "idle_timeout") {
		t.Errorf("problem = %s", p)
	}
}

// TestKeyFlags checks that every key of a section in the default file has
// a hidden dotted flag, and that giving each its default's value loads the
// default: the flag exists, sets that key, and its text converts.
func TestKeyFlags(t *testing.T) {
	def, _, _ := parseYAML("", defaultYAML)
	var args []string
	var leaves func(path string, v any)
	leaves = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			args = append(args, "--"+strings.ReplaceAll(path, "_", "-")+"="+fmt.Sprint(v))
			return
		}
		for k, sub := range m {
			leaves(joinKey(path, k), sub)
		}
	}
	for k, v := range def {
		if _, ok := v.(map[string]any); ok && k != "log" && k != "providers" {
			leaves(k, v)
		}
	}
	fs := pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	hidden := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			hidden++
		}
	})
	if hidden != len(args) {
		t.Errorf("%d hidden flags, want one for each of the default's %d section keys", hidden, len(args))
	}
	if usage := fs.FlagUsages(); strings.Contains(usage, "server.") {
		t.Errorf("--help lists the dotted flags:\n%s", usage)
	}
	got, want := mustLoad(t, Options{Flags: fs}), mustLoad(t, Options{})
	got.env, got.src, want.env, want.src = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flags with the default's values give\n%+v\nwant\n%+v", got, want)
	}
}

// TestKeyFlagProblems checks that a dotted flag's bad value is a problem
// naming the flag, and what pflag itself refuses.
func TestKeyFlagProblems(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the one problem, or pflag's error
	}{
		{name: "bad duration", args: []string{"--server.idle-timeout=soon"},
			want: `--server.idle-timeout: server.idle_timeout: want a duration like "30s" or "1m30s", got "soon"`},
		{name: "bad number", args: []string{"--redis.pool-size", "many"},
			want: `--redis.pool-size: redis.pool_size: want a whole number, got "many"`},
		{name: "bad boolean", args: []string{"--auth.virtual-keys=yes please"},
			want: `--auth.virtual-keys: auth.virtual_keys: want true or false, got "yes please"`},
		{name: "bad enum", args: []string{"--server.engine=fasthttp"},
			want: `--server.engine: server.engine: want one of inline, standard; got "fasthttp"`},
		{name: "boolean without its value", args: []string{"--metrics.enabled"},
			want: "flag needs an argument: --metrics.enabled"},
		{name: "not a key", args: []string{"--server.idel-timeout=1s"},
			want: "unknown flag: --server.idel-timeout"},
		{name: "no flag for a provider's key", args: []string{"--providers.openai.base-url=https://x.test"},
			want: "unknown flag: --providers.openai.base-url"},
		{name: "no dotted twin of a standard flag", args: []string{"--log.level=debug"},
			want: "unknown flag: --log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				if err.Error() != tt.want {
					t.Errorf("Parse: %v, want %s", err, tt.want)
				}
				return
			}
			_, ps := loadProblems(t, Options{Flags: fs})
			if len(ps) != 1 || ps[0].String() != tt.want {
				t.Errorf("problems:\n%swant:\n\t%s", listProblems(ps), tt.want)
			}
		})
	}
}

// TestDotenv checks the .env file beside the config: it feeds overrides and
// lookups, and the real environment wins over it.
func TestDotenv(t *testing.T) {
	path := writeConfig(t, "listen: :1001\n")
	writeDotenv(t, path, `# local development
TOLLGATE_LISTEN=:2001
TOLLGATE_DATA_DIR=/from/dotenv
OPENAI_API_KEY="sk-from-dotenv-0001"
ANTHROPIC_API_KEY=sk-ant-from-dotenv
export GEMINI_API_KEY=gm-from-dotenv
`)
	c := mustLoad(t, Options{Path: path, Environ: []string{
		"TOLLGATE_DATA_DIR=/from/env",
		"ANTHROPIC_API_KEY=sk-ant-from-env",
	}})
	if c.Listen != ":2001" {
		t.Errorf("listen = %q, want .env's :2001 over the file's", c.Listen)
	}
	if c.DataDir != "/from/env" {
		t.Errorf("data_dir = %q, want the real environment's over .env's", c.DataDir)
	}
	tests := []struct{ provider, key string }{
		{"openai", "sk-from-dotenv-0001"},
		{"anthropic", "sk-ant-from-env"},
		{"gemini", "gm-from-dotenv"},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			key, _, ok := c.APIKey(tt.provider)
			if !ok || key != tt.key {
				t.Errorf("APIKey(%q) = %q, %v; want %q", tt.provider, key, ok, tt.key)
			}
		})
	}

	writeDotenv(t, path, "TOLLGATE_LOG__LEVEL=chatty\n")
	_, ps := loadProblems(t, Options{Path: path})
	if p := findProblem(t, ps, "log.level"); !strings.HasSuffix(p.Source, ".env: TOLLGATE_LOG__LEVEL") {
		t.Errorf("source = %q, want the .env file and variable", p.Source)
	}
}

// TestDotenvProblems checks that a .env file that does not parse is
// reported at the line where the trouble starts, without the value on it.
func TestDotenvProblems(t *testing.T) {
	const secret = "sk-planted-Zq8v7X2mN4pL9rT1"
	tests := []struct {
		name, dotenv, want string
	}{
		{name: "a word", dotenv: "# dev\nTOLLGATE_LISTEN=:1\noops\nB=2\n",
			want: `.env:3: want NAME=value, got "oops"`},
		{name: "a bad name", dotenv: "\n\nmy-var=1\n",
			want: `.env:3: want NAME=value, got "my-var=…"`},
		{name: "no equals sign before a secret", dotenv: "A=1\nOPENAI_API_KEY " + secret + "\n",
			want: `.env:2: want NAME=value, got "OPENAI_API_KEY …"`},
		{name: "a pasted key", dotenv: "A=1\n" + secret + "\n",
			want: `.env:2: want NAME=value, got a 27-character string`},
		{name: "after a value of two lines", dotenv: "A=\"one\ntwo\"\noops\n",
			want: `.env:3: want NAME=value, got "oops"`},
		{name: "an unclosed quote", dotenv: "A=\"one\ntwo\"\n  export OPENAI_API_KEY=\"" + secret + "\nB=2\n",
			want: `.env:3: the value of "OPENAI_API_KEY" opens a quote that is never closed`},
		{name: "CRLF line ends", dotenv: "A=1\r\noops\r\nB=2\r\n",
			want: `.env:2: want NAME=value, got "oops"`},
		{name: "no newline at the end", dotenv: "A=1\nB-C=2",
			want: `.env:2: want NAME=value, got "B-C=…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "{}\n")
			writeDotenv(t, path, tt.dotenv)
			_, ps := loadProblems(t, Options{Path: path})
			if len(ps) != 1 || ps[0].String() != tt.want {
				t.Errorf("problems:\n%swant:\n\t%s", listProblems(ps), tt.want)
			}
		})
	}
}

// TestLookup checks Lookup and APIKey, including a variable set to empty
// in the real environment hiding the .env file's value.
func TestLookup(t *testing.T) {
	path := writeConfig(t, `providers:
  openai: {base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY}
  local: {type: openai, base_url: "http://127.0.0.1:11434/v1"}
  anthropic: {base_url: "https://api.anthropic.com", api_key_env: ANTHROPIC_API_KEY}
`)
	writeDotenv(t, path, "OPENAI_API_KEY=from-dotenv\nANTHROPIC_API_KEY=from-dotenv\nONLY_IN_DOTENV=x\n")
	c := mustLoad(t, Options{Path: path, Environ: []string{"OPENAI_API_KEY="}})

	tests := []struct {
		name, provider, key, envVar string
		ok                          bool
	}{
		{name: "empty in environment hides dotenv", provider: "openai", envVar: "OPENAI_API_KEY"},
		{name: "from dotenv", provider: "anthropic", key: "from-dotenv", envVar: "ANTHROPIC_API_KEY", ok: true},
		{name: "no api_key_env", provider: "local"},
		{name: "unknown provider", provider: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, envVar, ok := c.APIKey(tt.provider)
			if key != tt.key || envVar != tt.envVar || ok != tt.ok {
				t.Errorf("APIKey(%q) = %q, %q, %v; want %q, %q, %v", tt.provider, key, envVar, ok, tt.key, tt.envVar, tt.ok)
			}
		})
	}
	if v, ok := c.Lookup("ONLY_IN_DOTENV"); v != "x" || !ok {
		t.Errorf("Lookup(ONLY_IN_DOTENV) = %q, %v", v, ok)
	}
	if _, ok := c.Lookup("HOME"); ok {
		t.Error("Lookup(HOME) found a value although Options.Environ replaced the process environment")
	}

	t.Setenv("TOLLGATE_TEST_LOOKUP", "live")
	var zero Config
	if v, ok := zero.Lookup("TOLLGATE_TEST_LOOKUP"); v != "live" || !ok {
		t.Errorf("zero Config Lookup = %q, %v; want the process environment", v, ok)
	}
}

// TestProcessEnvironment checks that a nil Options.Environ means the
// process environment, for overrides and lookups.
func TestProcessEnvironment(t *testing.T) {
	t.Setenv("TOLLGATE_ADMIN_LISTEN", "127.0.0.1:9999")
	t.Setenv("OPENAI_API_KEY", "sk-process-0001")
	t.Setenv("TOLLGATE_CONFIG", "/reserved/for/the/binary.yaml")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminListen != "127.0.0.1:9999" {
		t.Errorf("admin_listen = %q", c.AdminListen)
	}
	if key, _, _ := c.APIKey("openai"); key != "sk-process-0001" {
		t.Errorf("APIKey(openai) = %q", key)
	}
}

// TestDocumentsOfComments checks that a document holding only comments,
// such as a header between two "---", sets nothing and is no second
// document, and that lines still count from the top of the file.
func TestDocumentsOfComments(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int // of listen; 0 when the file does not set it
	}{
		{name: "header between markers", yaml: "---\n# staging\n---\nlisten: 127.0.0.1:9000\n", line: 4},
		{name: "trailing marker", yaml: "listen: 127.0.0.1:9000\n---\n", line: 1},
		{name: "trailing comments", yaml: "listen: 127.0.0.1:9000\n---\n# old:\n# listen: 127.0.0.1:1\n", line: 1},
		{name: "comments only", yaml: "---\n# nothing yet\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			c := mustLoad(t, Options{Path: path})
			want, src := "127.0.0.1:8080", ""
			if tt.line > 0 {
				want, src = "127.0.0.1:9000", path+":"+strconv.Itoa(tt.line)
			}
			if c.Listen != want || c.Source("listen") != src {
				t.Errorf("listen = %q from %q, want %q from %q", c.Listen, c.Source("listen"), want, src)
			}
		})
	}
}

// TestReadErrors checks that unreadable files give a plain wrapped error.
func TestReadErrors(t *testing.T) {
	_, err := Load(Options{Path: t.TempDir() + "/missing.yaml", Environ: []string{}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("err = %v, want a config: error wrapping fs.ErrNotExist", err)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		t.Error("a missing file is reported as a *config.Error")
	}
}

// TestValidate checks Validate on a Config built in Go.
func TestValidate(t *testing.T) {
	c := mustLoad(t, Options{})
	if err := c.Validate(); err != nil {
		t.Fatalf("loaded config: %v", err)
	}
	bad := *c
	bad.Listen = "nope"
	bad.Pipeline = append([]Stage{{Kind: "builtin"}}, c.Pipeline...)
	err := bad.Validate()
	cerr, ok := errors.AsType[*Error](err)
	if !ok || len(cerr.Problems) != 2 {
		t.Fatalf("Validate = %v, want 2 problems", err)
	}
	if cerr.Problems[0].Path != "listen" || cerr.Problems[1].Path != "pipeline[0].name" {
		t.Errorf("problems = %v", cerr.Problems)
	}
}
