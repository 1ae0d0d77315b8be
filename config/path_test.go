package config

import (
	"slices"
	"testing"
)

func TestSplitPath(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{path: "listen", want: []string{"listen"}},
		{path: "log.level", want: []string{"log", "level"}},
		{path: "pipeline[1].kind", want: []string{"pipeline", "[1]", "kind"}},
		{path: "pipeline[0].config.list[2][3]", want: []string{"pipeline", "[0]", "config", "list", "[2]", "[3]"}},
		{path: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := splitPath(tt.path)
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitPath(%q) = %q, want %q", tt.path, got, tt.want)
			}
			if back := joinSegs(got); back != tt.path {
				t.Errorf("joinSegs(%q) = %q, want %q", got, back, tt.path)
			}
		})
	}
}

func TestEnvKey(t *testing.T) {
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{name: "TOLLGATE_LISTEN", path: "listen", ok: true},
		{name: "TOLLGATE_ADMIN_LISTEN", path: "admin_listen", ok: true},
		{name: "TOLLGATE_LOG__LEVEL", path: "log.level", ok: true},
		{name: "TOLLGATE_SERVER__MAX_BODY_BYTES", path: "server.max_body_bytes", ok: true},
		{name: "TOLLGATE_PROVIDERS__MY_OPENAI__BASE_URL", path: "providers.my_openai.base_url", ok: true},
		{name: "TOLLGATE_CONFIG"},
		{name: "OTHER_LISTEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, ok := envKey(tt.name)
			if path != tt.path || ok != tt.ok {
				t.Errorf("envKey(%q) = %q, %v; want %q, %v", tt.name, path, ok, tt.path, tt.ok)
			}
			if ok && envName(path) != tt.name {
				t.Errorf("envName(%q) = %q, want %q", path, envName(path), tt.name)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	candidates := []string{"listen", "admin_listen", "data_dir", "log", "server", "customer", "providers", "pipeline"}
	tests := []struct{ key, want string }{
		{key: "lisen", want: `listen`},
		{key: "Listen", want: `listen`},
		{key: "adminlisten", want: `admin_listen`},
		{key: "datadir", want: `data_dir`},
		{key: "provider", want: `providers`},
		{key: "logging", want: `log`},
		{key: "zzz", want: ``},
		{key: "metrics", want: ``},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			want := ""
			if tt.want != "" {
				want = ` (did you mean "` + tt.want + `"?)`
			}
			if got := suggest(tt.key, candidates); got != want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, want)
			}
		})
	}
}
