package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: "", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "ERROR", want: slog.LevelError},
		{in: "verbose", wantErr: true},
		{in: "warning", wantErr: true},
		{in: "info+2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Errorf("ParseLevel(%q) error = %v, want one naming %q", tt.in, err, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ name, level, format, want string }{
		{name: "bad level", level: "chatty", format: "json", want: `logging: unknown level "chatty"`},
		{name: "bad format", level: "info", format: "logfmt", want: `logging: unknown format "logfmt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&bytes.Buffer{}, tt.level, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestFormats checks what each format writes, and the level filter.
func TestFormats(t *testing.T) {
	tests := []struct {
		name     string
		format   string
		terminal bool
		noColor  bool
		check    func(t *testing.T, out string)
	}{
		{name: "json", format: "json", check: wantJSON},
		{name: "auto off a terminal", format: "auto", check: wantJSON},
		{name: "empty off a terminal", format: "", check: wantJSON},
		{name: "text", format: "text", check: wantText(false)},
		{name: "text on a terminal", format: "text", terminal: true, check: wantText(false)},
		{name: "auto on a terminal", format: "auto", terminal: true, check: wantText(true)},
		{name: "auto on a terminal with NO_COLOR", format: "auto", terminal: true, noColor: true, check: wantText(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h, err := newHandler(&buf, slog.LevelInfo, tt.format, tt.terminal, tt.noColor)
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(NewRedactor(h))
			log.Debug("hidden")
			log.Info("started", "listen", "127.0.0.1:8080")
			out := buf.String()
			if strings.Contains(out, "hidden") {
				t.Errorf("debug record written at info level:\n%s", out)
			}
			tt.check(t, out)
		})
	}
}

func wantJSON(t *testing.T, out string) {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("output is not one JSON record: %v\n%s", err, out)
	}
	if rec["msg"] != "started" || rec["listen"] != "127.0.0.1:8080" || rec["level"] != "INFO" {
		t.Errorf("record = %v", rec)
	}
}

func wantText(colour bool) func(t *testing.T, out string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if got := strings.Contains(out, "\x1b["); got != colour {
			t.Errorf("colour = %v, want %v:\n%q", got, colour, out)
		}
		if !strings.Contains(out, "INF") || !strings.Contains(out, "started") || !strings.Contains(out, "127.0.0.1:8080") {
			t.Errorf("text output = %q", out)
		}
	}
}

// TestIsTerminal checks that files and buffers are not terminals; the
// Linux test adds a pseudo-terminal.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var nilFile *os.File
	for _, w := range []any{f, &bytes.Buffer{}, nilFile} {
		if w, ok := w.(interface{ Write([]byte) (int, error) }); ok && isTerminal(w) {
			t.Errorf("isTerminal(%T) = true", w)
		}
	}
}
