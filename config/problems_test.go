package config

import (
	"strings"
	"testing"
)

// TestProblems checks that each kind of mistake is reported once, at its
// path, with a message and the line or variable that caused it.
func TestProblems(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		environ []string
		path    string // the one problem's path
		message string // a substring of its message
		source  string // its source, with the directory cut
	}{
		// Unknown keys, at every depth.
		{name: "unknown top-level key", yaml: "lisen: 127.0.0.1:9000\n",
			path: "lisen", message: `unknown key (did you mean "listen"?)`, source: "config.yaml:1"},
		{name: "unknown nested key", yaml: "server:\n  idle_timout: 5s\n",
			path: "server.idle_timout", message: `unknown key (did you mean "idle_timeout"?)`, source: "config.yaml:2"},
		{name: "unknown key without suggestion", yaml: "frobnicate: true\n",
			path: "frobnicate", message: "unknown key", source: "config.yaml:1"},
		{name: "unknown provider key", yaml: "providers:\n  openai:\n    base_url: https://x.test\n    api_key: sk\n",
			path: "providers.openai.api_key", message: `did you mean "api_key_env"?`, source: "config.yaml:4"},
		{name: "unknown stage key", yaml: "pipeline:\n  - name: a\n    kind: builtin\n    cfg: {}\n",
			path: "pipeline[0].cfg", message: `did you mean "config"?`, source: "config.yaml:4"},
		{name: "unknown key from environment", environ: []string{"TOLLGATE_LISTN=:1"},
			path: "listn", message: `did you mean "listen"?`, source: "$TOLLGATE_LISTN"},

		// Wrong types.
		{name: "list for string", yaml: "listen: [a, b]\n",
			path: "listen", message: "want a string, got a list", source: "config.yaml:1"},
		{name: "number for string", yaml: "data_dir: 7\n",
			path: "data_dir", message: "want a string, got 7", source: "config.yaml:1"},
		{name: "scalar for struct", yaml: "server: 5\n",
			path: "server", message: "want a map, got 5", source: "config.yaml:1"},
		{name: "word for number", yaml: "server:\n  max_body_bytes: lots\n",
			path: "server.max_body_bytes", message: `want a whole number, got "lots"`, source: "config.yaml:2"},
		{name: "fraction for number", yaml: "server:\n  max_header_bytes: 1.5\n",
			path: "server.max_header_bytes", message: "want a whole number, got 1.5", source: "config.yaml:2"},
		{name: "list for providers", yaml: "providers: [openai]\n",
			path: "providers", message: "want a map, got a list", source: "config.yaml:1"},
		{name: "string for provider", yaml: "providers:\n  openai: https://api.openai.com\n",
			path: "providers.openai", message: `want a map, got "https://api.openai.com"`, source: "config.yaml:2"},
		{name: "map for pipeline", yaml: "pipeline:\n  call: builtin\n",
			path: "pipeline", message: "want a list, got a map", source: "config.yaml:1"},
		{name: "string for stage", yaml: "pipeline:\n  - call\n",
			path: "pipeline[0]", message: `want a map, got "call"`, source: "config.yaml:2"},
		{name: "list for stage config", yaml: "pipeline:\n  - {name: a, kind: builtin, config: [1]}\n",
			path: "pipeline[0].config", message: "want a map, got a list", source: "config.yaml:2"},
		{name: "pipeline from environment", environ: []string{"TOLLGATE_PIPELINE__0__NAME=x"},
			path: "pipeline", message: "a list can be set only in the config file", source: "$TOLLGATE_PIPELINE__0__NAME"},
		{name: "word for number from environment", environ: []string{"TOLLGATE_SERVER__MAX_BODY_BYTES=32MiB"},
			path: "server.max_body_bytes", message: `want a whole number, got "32MiB"`, source: "$TOLLGATE_SERVER__MAX_BODY_BYTES"},

		// Durations.
		{name: "duration without unit", yaml: "server:\n  idle_timeout: 30\n",
			path: "server.idle_timeout", message: "got 30 (add a unit)", source: "config.yaml:2"},
		{name: "duration string without unit", yaml: "server:\n  idle_timeout: \"30\"\n",
			path: "server.idle_timeout", message: `want a duration like "30s" or "1m30s", got "30"`, source: "config.yaml:2"},
		{name: "bad stage timeout", yaml: "pipeline:\n  - {name: a, kind: builtin, timeout: soon}\n",
			path: "pipeline[0].timeout", message: `got "soon"`, source: "config.yaml:2"},
		{name: "negative server timeout", yaml: "server:\n  shutdown_timeout: -1s\n",
			path: "server.shutdown_timeout", message: "must not be negative, got -1s", source: "config.yaml:2"},
		{name: "negative stage timeout", yaml: "pipeline:\n  - {name: a, kind: builtin, timeout: -2s}\n",
			path: "pipeline[0].timeout", message: "must not be negative, got -2s", source: "config.yaml:2"},
		{name: "bad duration from environment", environ: []string{"TOLLGATE_SERVER__IDLE_TIMEOUT=2 minutes"},
			path: "server.idle_timeout", message: `got "2 minutes"`, source: "$TOLLGATE_SERVER__IDLE_TIMEOUT"},

		// Enums.
		{name: "log level", yaml: "log:\n  level: verbose\n",
			path: "log.level", message: `want one of debug, info, warn, error; got "verbose"`, source: "config.yaml:2"},
		{name: "log format", environ: []string{"TOLLGATE_LOG__FORMAT=xml"},
			path: "log.format", message: `want one of auto, text, json; got "xml"`, source: "$TOLLGATE_LOG__FORMAT"},
		{name: "server engine", yaml: "server:\n  engine: fasthttp\n",
			path: "server.engine", message: `want one of inline, standard; got "fasthttp"`, source: "config.yaml:2"},
		{name: "negative gc headroom", yaml: "server:\n  gc_headroom_bytes: -1\n",
			path: "server.gc_headroom_bytes", message: "want a number of bytes >= 0 (0: Go's default GOGC), got -1", source: "config.yaml:2"},
		{name: "customer missing", yaml: "customer:\n  missing: drop\n",
			path: "customer.missing", message: `want one of track, reject; got "drop"`, source: "config.yaml:2"},
		{name: "on_error", yaml: "pipeline:\n  - {name: a, kind: builtin, on_error: explode}\n",
			path: "pipeline[0].on_error", message: `want one of fail_open, fail_closed; got "explode"`, source: "config.yaml:2"},
		{name: "provider type", yaml: "providers:\n  mine:\n    type: cohere\n    base_url: https://x.test\n",
			path: "providers.mine.type", message: `want one of openai, anthropic, gemini, azure; got "cohere"`, source: "config.yaml:3"},
		{name: "provider type from name", yaml: "providers:\n  local:\n    base_url: http://localhost:11434\n",
			path: "providers.local.type", message: `the provider name "local" is not a type`, source: "config.yaml:2"},

		// Missing required values.
		{name: "empty listen", yaml: "listen: \"\"\n",
			path: "listen", message: "required", source: "config.yaml:1"},
		{name: "null listen", yaml: "listen:\n",
			path: "listen", message: "required", source: "config.yaml:1"},
		{name: "empty data_dir", yaml: "data_dir: \"\"\n",
			path: "data_dir", message: "required", source: "config.yaml:1"},
		{name: "empty customer header", yaml: "customer:\n  header: \"\"\n",
			path: "customer.header", message: "required", source: "config.yaml:2"},
		{name: "stage without kind", yaml: "pipeline:\n  - name: a\n    kind: builtin\n  - name: b\n",
			path: "pipeline[1].kind", message: "required", source: "config.yaml:4"},
		{name: "stage without name", yaml: "pipeline:\n  - kind: builtin\n",
			path: "pipeline[0].name", message: "required", source: "config.yaml:2"},
		{name: "provider without base_url", yaml: "providers:\n  openai:\n    api_key_env: OPENAI_API_KEY\n",
			path: "providers.openai.base_url", message: "required", source: "config.yaml:2"},
		{name: "provider added from environment without base_url", environ: []string{"TOLLGATE_PROVIDERS__LOCAL__TYPE=openai"},
			path: "providers.local.base_url", message: "required", source: "$TOLLGATE_PROVIDERS__LOCAL__TYPE"},

		// Values of the right type that are still wrong.
		{name: "listen not host:port", yaml: "listen: 8080x\n",
			path: "listen", message: `want host:port, got "8080x"`, source: "config.yaml:1"},
		{name: "listen with named port", yaml: "listen: localhost:http\n",
			path: "listen", message: `want host:port, got "localhost:http"`, source: "config.yaml:1"},
		{name: "admin_listen same as listen", yaml: "listen: 127.0.0.1:9000\nadmin_listen: 127.0.0.1:9000\n",
			path: "admin_listen", message: "must differ from listen", source: "config.yaml:2"},
		{name: "listen from flag-free environment", environ: []string{"TOLLGATE_ADMIN_LISTEN=nope"},
			path: "admin_listen", message: `want host:port, got "nope"`, source: "$TOLLGATE_ADMIN_LISTEN"},
		{name: "zero body cap", yaml: "server:\n  max_body_bytes: 0\n",
			path: "server.max_body_bytes", message: "want a positive number of bytes, got 0", source: "config.yaml:2"},
		{name: "customer header not a header name", yaml: "customer:\n  header: X Customer\n",
			path: "customer.header", message: `want an HTTP header name, got "X Customer"`, source: "config.yaml:2"},
		{name: "base_url without scheme", yaml: "providers:\n  openai:\n    base_url: api.openai.com/v1\n",
			path: "providers.openai.base_url", message: "want an absolute http(s) URL", source: "config.yaml:3"},
		{name: "base_url with other scheme", yaml: "providers:\n  openai:\n    base_url: ftp://api.openai.com\n",
			path: "providers.openai.base_url", message: "want an absolute http(s) URL", source: "config.yaml:3"},
		{name: "base_url with credentials", yaml: "providers:\n  openai:\n    base_url: https://u:p@api.openai.com\n",
			path: "providers.openai.base_url", message: "must not hold credentials", source: "config.yaml:3"},
		{name: "base_url from environment", environ: []string{"TOLLGATE_PROVIDERS__OPENAI__BASE_URL=/v1"},
			path: "providers.openai.base_url", message: `want an absolute http(s) URL, got "/v1"`, source: "$TOLLGATE_PROVIDERS__OPENAI__BASE_URL"},
		{name: "api_key_env not a variable name", yaml: "providers:\n  openai:\n    base_url: https://x.test\n    api_key_env: OPENAI-KEY\n",
			path: "providers.openai.api_key_env", message: "want the name of an environment variable", source: "config.yaml:4"},
		{name: "provider name", yaml: "providers:\n  Open AI:\n    type: openai\n    base_url: https://x.test\n",
			path: "providers.Open AI", message: "want a provider name of lowercase letters", source: "config.yaml:2"},
		{name: "duplicate stage", yaml: "pipeline:\n  - {name: call, kind: builtin}\n  - {name: call, kind: builtin}\n",
			path: "pipeline[1].name", message: `duplicate stage name "call" (first used at pipeline[0])`, source: "config.yaml:3"},

		// Documents that do not parse.
		{name: "yaml syntax", yaml: "listen: a\n  bad: [\n",
			path: "", message: "mapping values are not allowed", source: "config.yaml:2"},
		{name: "yaml duplicate key", yaml: "listen: a:1\nlisten: b:2\n",
			path: "", message: `"listen" already defined`, source: "config.yaml:2"},
		{name: "second document", yaml: "listen: 127.0.0.1:1\n---\nlisten: nonsense\n",
			path: "", message: "a second YAML document; tollgate reads one: merge them, or use one file per gateway", source: "config.yaml:2"},
		{name: "second document after a header", yaml: "---\n# header\n---\nlisten: 127.0.0.1:1\n---\nlog: {level: debug}\n",
			path: "", message: "a second YAML document", source: "config.yaml:5"},
		{name: "second document after an end marker", yaml: "listen: 127.0.0.1:1\n...\n---\nlog: {level: debug}\n",
			path: "", message: "a second YAML document", source: "config.yaml:3"},
		{name: "yaml syntax in a second document", yaml: "listen: 127.0.0.1:1\n---\nlog: [\n",
			path: "", message: "did not find expected node content", source: "config.yaml:3"},
		{name: "null document", yaml: "~\n",
			path: "", message: "want a map of settings at the top level, got a single value", source: "config.yaml:1"},
		{name: "top level not a map", yaml: "- listen\n",
			path: "", message: "want a map of settings at the top level, got a list", source: "config.yaml:1"},
		{name: "environment variable with empty key", environ: []string{"TOLLGATE_LOG____LEVEL=debug"},
			path: "", message: `separate keys with "__", as in TOLLGATE_LOG__LEVEL`, source: "$TOLLGATE_LOG____LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Environ: tt.environ}
			if tt.yaml != "" {
				opts.Path = writeConfig(t, tt.yaml)
			}
			err, ps := loadProblems(t, opts)
			if len(ps) != 1 {
				t.Fatalf("want 1 problem, got %d:\n%s", len(ps), listProblems(ps))
			}
			p := findProblem(t, ps, tt.path)
			if !strings.Contains(p.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", p.Message, tt.message)
			}
			if p.Source != tt.source {
				t.Errorf("source = %q, want %q", p.Source, tt.source)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.path+": ") || !strings.Contains(msg, tt.message) {
				t.Errorf("Error() = %q, want the path %q and message %q in it", msg, tt.path, tt.message)
			}
		})
	}
}

// TestProblemsAllAtOnce checks that one Load reports every problem in a bad
// file, in line order, and that Error lists each on its own line.
func TestProblemsAllAtOnce(t *testing.T) {
	path := writeConfig(t, `lisen: 127.0.0.1:9000
listen: 8080x
log:
  level: verbose
server:
  idle_timeout: 30
providers:
  openai:
    base_url: api.openai.com/v1
pipeline:
  - {name: validate, kind: builtin}
  - {name: call}
  - {name: call, kind: builtin, on_error: explode}
`)
	err, ps := loadProblems(t, Options{Path: path, Environ: []string{"TOLLGATE_CUSTOMER__MISSING=drop"}})
	want := []struct{ source, path string }{
		{"config.yaml:1", "lisen"},
		{"config.yaml:2", "listen"},
		{"config.yaml:4", "log.level"},
		{"config.yaml:6", "server.idle_timeout"},
		{"config.yaml:9", "providers.openai.base_url"},
		{"config.yaml:12", "pipeline[1].kind"},
		{"config.yaml:13", "pipeline[2].name"},
		{"config.yaml:13", "pipeline[2].on_error"},
		{"$TOLLGATE_CUSTOMER__MISSING", "customer.missing"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), listProblems(ps))
	}
	for i, w := range want {
		if ps[i].Source != w.source || ps[i].Path != w.path {
			t.Errorf("problem %d = %s, want source %q path %q", i, ps[i], w.source, w.path)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "config: 9 problems:" || len(lines) != 10 {
		t.Errorf("Error() = %q, want a heading and one line per problem", err.Error())
	}
}

// TestStageConfigIsFreeForm checks that keys inside a stage's config are
// not checked and arrive untouched.
func TestStageConfigIsFreeForm(t *testing.T) {
	path := writeConfig(t, `pipeline:
  - name: guard
    kind: rego
    on_error: fail_closed
    timeout: 250ms
    config:
      anything: goes
      nested: {list: [1, two, {three: 3}]}
`)
	c := mustLoad(t, Options{Path: path})
	s := c.Pipeline[0]
	if s.Name != "guard" || s.Kind != "rego" || s.OnError != OnErrorFailClosed || s.Timeout.String() != "250ms" {
		t.Errorf("stage = %+v", s)
	}
	nested, ok := s.Config["nested"].(map[string]any)
	if s.Config["anything"] != "goes" || !ok {
		t.Fatalf("config = %#v", s.Config)
	}
	list, ok := nested["list"].([]any)
	if !ok || len(list) != 3 || list[1] != "two" {
		t.Errorf("config.nested.list = %#v", nested["list"])
	}
}

// Two listeners on port 0 take two ports the kernel picks: they do not
// clash, so listen and admin_listen may both say so.
func TestBothListenersMayTakeAPickedPort(t *testing.T) {
	cfg := mustLoad(t, Options{Path: writeConfig(t, "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\n")})
	if cfg.Listen != "127.0.0.1:0" || cfg.AdminListen != "127.0.0.1:0" {
		t.Fatalf("listen %q, admin_listen %q", cfg.Listen, cfg.AdminListen)
	}
	if !PortPicked(cfg.AdminListen) || PortPicked("127.0.0.1:8080") || PortPicked("127.0.0.1:10") {
		t.Fatal("PortPicked is not port 0 alone")
	}
}

// TestSource: Config.Source says where a loaded value was set, for
// messages about values found wrong after loading (a stage's config).
func TestSource(t *testing.T) {
	path := writeConfig(t, "listen: 127.0.0.1:9000\npipeline:\n  - {name: a, kind: builtin}\n  - name: cache\n    kind: builtin\n    config:\n      tll: 5m\n")
	c := mustLoad(t, Options{Path: path, Environ: []string{"TOLLGATE_ADMIN_LISTEN=127.0.0.1:9001"}})
	for p, want := range map[string]string{
		"listen":                   path + ":1",
		"pipeline[1]":              path + ":4",
		"pipeline[1].config.tll":   path + ":7",
		"pipeline[1].config.other": path + ":6", // not set: the map around it
		"admin_listen":             "$TOLLGATE_ADMIN_LISTEN",
		"data_dir":                 "", // the built-in default
	} {
		if got := c.Source(p); got != want {
			t.Errorf("Source(%q) = %q, want %q", p, got, want)
		}
	}
	if got := (&Config{}).Source("listen"); got != "" {
		t.Errorf("a Config not from Load: Source = %q, want empty", got)
	}
}

func TestReloaded(t *testing.T) {
	first := writeConfig(t, "listen: 127.0.0.1:9000\npipeline:\n  - {name: a, kind: builtin}\n")
	second := writeConfig(t, "# moved\nlisten: 127.0.0.1:9100\npipeline:\n  - {name: b, kind: builtin}\n  - name: c\n    kind: builtin\n")
	old := mustLoad(t, Options{Path: first, Environ: []string{"OLD_ONLY=1"}})
	next := mustLoad(t, Options{Path: second, Environ: []string{"NEW_ONLY=1"}})
	r := old.Reloaded(next)
	if r.Listen != "127.0.0.1:9000" || len(r.Pipeline) != 2 || r.Pipeline[1].Name != "c" {
		t.Errorf("Reloaded: listen %q, pipeline %+v; want the old listen and the new pipeline", r.Listen, r.Pipeline)
	}
	for p, want := range map[string]string{
		"listen":      first + ":1",  // in force since the start
		"pipeline":    second + ":3", // reloaded
		"pipeline[1]": second + ":5",
	} {
		if got := r.Source(p); got != want {
			t.Errorf("Source(%q) = %q, want %q", p, got, want)
		}
	}
	if _, ok := r.Lookup("NEW_ONLY"); !ok {
		t.Error("the reloaded config does not read the new environment")
	}
	// Twice: the second reload's pipeline, the first file's listen.
	third := writeConfig(t, "pipeline:\n\n  - {name: d, kind: builtin}\n")
	r = r.Reloaded(mustLoad(t, Options{Path: third}))
	if got, want := r.Source("pipeline[0]"), third+":3"; got != want || r.Pipeline[0].Name != "d" {
		t.Errorf("after two reloads: pipeline[0] %q from %q, want d from %q", r.Pipeline[0].Name, got, want)
	}
	if got, want := r.Source("listen"), first+":1"; got != want {
		t.Errorf("after two reloads: Source(listen) = %q, want %q", got, want)
	}
	if got := (&Config{}).Reloaded(&Config{}).Source("listen"); got != "" {
		t.Errorf("Configs not from Load: Source = %q, want empty", got)
	}
}
