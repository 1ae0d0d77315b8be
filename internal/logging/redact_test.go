package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lmittmann/tint"
)

const (
	planted = "sk-planted-Zq8v7X2mN4pL9rT1xW" // a key passed to New as a secret
	short   = "hunter2"                       // a value that is no secret by itself
)

// upstreamRequest is a value with a secret inside, printed with %+v.
type upstreamRequest struct {
	URL    string
	Bearer string
}

// lazySecret is a LogValuer that resolves to a secret.
type lazySecret struct{}

func (lazySecret) LogValue() slog.Value { return slog.StringValue("Bearer " + planted) }

// TestRedaction logs a planted key in every place it could hide, in every
// format, and checks that it never reaches the output.
func TestRedaction(t *testing.T) {
	header := http.Header{
		"Authorization":  {"Bearer " + planted},
		"X-Api-Key":      {short},
		"X-Goog-Api-Key": {short},
		"X-Forwarded":    {"for=" + planted},
		"Content-Type":   {"application/json"},
	}
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		keep string // text that must still be in the output
		same bool   // nothing is to be redacted
	}{
		{name: "message", log: func(l *slog.Logger) { l.Info("calling with key " + planted) }, keep: "calling with key"},
		{name: "string attr", log: func(l *slog.Logger) { l.Info("call", "note", "key="+planted) }, keep: "key="},
		{name: "sensitive key", log: func(l *slog.Logger) { l.Info("call", "password", short) }},
		{name: "sensitive key any case", log: func(l *slog.Logger) { l.Info("call", "Authorization", short) }},
		{name: "sensitive key suffix", log: func(l *slog.Logger) { l.Info("call", "openai_api_key", short, "refresh_token", short) }},
		{name: "sensitive key, other kind", log: func(l *slog.Logger) { l.Info("call", "token", 1234567) }},
		{name: "api_key_env is only a name", log: func(l *slog.Logger) { l.Info("call", "api_key_env", "OPENAI_API_KEY") }, keep: "OPENAI_API_KEY", same: true},
		{name: "group", log: func(l *slog.Logger) {
			l.Info("call", slog.Group("upstream", "url", "https://x.test/?k="+planted, "api-key", short))
		}, keep: "https://x.test/?k="},
		{name: "nested group", log: func(l *slog.Logger) {
			l.Info("call", slog.Group("a", slog.Group("b", "secret", short, "n", 1)))
		}},
		{name: "sensitive group", log: func(l *slog.Logger) {
			l.Info("call", slog.Group("authorization", "scheme", "Bearer", "value", short))
		}},
		{name: "header", log: func(l *slog.Logger) { l.Info("call", "headers", header) }, keep: "application/json"},
		{name: "header in group", log: func(l *slog.Logger) { l.Info("call", slog.Group("req", "headers", header)) }, keep: "application/json"},
		{name: "header as plain map", log: func(l *slog.Logger) {
			l.Info("call", "headers", map[string][]string{"x-api-key": {short}, "Accept": {planted}})
		}},
		{name: "error", log: func(l *slog.Logger) {
			l.Error("call failed", "err", fmt.Errorf("upstream: %w", errors.New("bad key "+planted)))
		}, keep: "bad key"},
		{name: "tinted error", log: func(l *slog.Logger) { l.Error("call failed", tint.Err(errors.New("bad key "+planted))) }},
		{name: "struct", log: func(l *slog.Logger) { l.Info("call", "req", upstreamRequest{URL: "https://x.test", Bearer: planted}) }},
		{name: "bytes", log: func(l *slog.Logger) { l.Info("call", "body", []byte(`{"key":"`+planted+`"}`)) }},
		{name: "log valuer", log: func(l *slog.Logger) { l.Info("call", "auth", lazySecret{}) }},
		{name: "with attrs", log: func(l *slog.Logger) {
			l.With("x-api-key", short, "note", planted).Info("call", "n", 1)
		}},
		{name: "with group", log: func(l *slog.Logger) { l.WithGroup("req").Info("call", "token", short, "q", planted) }},
		{name: "with sensitive group", log: func(l *slog.Logger) { l.WithGroup("credentials_key").Info("call", "value", short) }},
		{name: "with attrs then group", log: func(l *slog.Logger) {
			l.With("a", planted).WithGroup("g").With("apikey", short).Info("call", slog.Group("h", "headers", header))
		}},
	}
	formats := []struct {
		name     string
		format   string
		terminal bool
	}{
		{name: "json", format: "json"},
		{name: "text", format: "text"},
		{name: "colour", format: "auto", terminal: true},
	}
	for _, f := range formats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				h, err := newHandler(&buf, slog.LevelDebug, f.format, f.terminal, false)
				if err != nil {
					t.Fatal(err)
				}
				tt.log(slog.New(NewRedactor(h, planted, "short")))
				out := buf.String()
				for _, leak := range []string{planted, planted[:12], short} {
					if strings.Contains(out, leak) {
						t.Errorf("output contains %q:\n%s", leak, out)
					}
				}
				if got := strings.Contains(out, Redacted); got == tt.same {
					t.Errorf("output says %s: %v, want %v:\n%s", Redacted, got, !tt.same, out)
				}
				if tt.keep != "" && !strings.Contains(out, tt.keep) {
					t.Errorf("output lost %q:\n%s", tt.keep, out)
				}
			})
		}
	}
}

// TestShortSecretsIgnored checks that secrets under 8 bytes do not mangle
// the output.
func TestShortSecretsIgnored(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "json", "info", "call", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("call", "level_name", "info")
	if out := buf.String(); strings.Contains(out, Redacted) {
		t.Errorf("short secrets were redacted:\n%s", out)
	}
}

// TestHeaderNotModified checks that redacting a header leaves the caller's
// header as it was.
func TestHeaderNotModified(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer " + planted}, "Accept": {"*/*"}}
	log, err := New(&bytes.Buffer{}, "info", "json", planted)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("call", "headers", h)
	if h.Get("Authorization") != "Bearer "+planted || h.Get("Accept") != "*/*" {
		t.Errorf("header changed: %v", h)
	}
}

// TestNothingToRedactDoesNotAllocate checks the fast path: a record with
// nothing to redact goes through without copies.
func TestNothingToRedactDoesNotAllocate(t *testing.T) {
	r := NewRedactor(discard{}, planted, "another-secret-value")
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request done", 0)
	rec.AddAttrs(
		slog.String("customer", "acme"),
		slog.Int("status", 200),
		slog.Duration("took", time.Millisecond),
		slog.Group("usage", slog.Int("input", 10), slog.Int("output", 20)),
		slog.String("Authorization-Scheme", "none"),
	)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() { _ = r.Handle(ctx, rec) })
	if allocs != 0 {
		t.Errorf("Handle allocated %v times per record, want 0", allocs)
	}
}

func TestSensitiveKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"authorization", true}, {"Proxy-Authorization", true}, {"X-Api-Key", true},
		{"x-goog-api-key", true}, {"api_key", true}, {"API-KEY", true}, {"apikey", true},
		{"key", true}, {"Token", true}, {"secret", true}, {"password", true},
		{"openai_api_key", true}, {"refresh_token", true}, {"Set-Cookie", true},
		{strings.Repeat("x", 70) + "_TOKEN", true},
		{"api_key_env", false}, {"keys", false}, {"monkey", false}, {"tokens", false},
		{"customer", false}, {"", false}, {"_key", true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := sensitiveKey(tt.key); got != tt.want {
				t.Errorf("sensitiveKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// discard is a handler that does nothing, to measure the redactor alone.
type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return true }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
