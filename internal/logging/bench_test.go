package logging

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkLog measures one log call with a few attributes, the shape of a
// request log line, with and without the redactor, and when it redacts.
//
//	go test -run '^$' -bench BenchmarkLog -benchmem ./internal/logging/
func BenchmarkLog(b *testing.B) {
	secrets := []string{"sk-planted-Zq8v7X2mN4pL9rT1xW", "sk-ant-another-planted-key-0001"}
	benches := []struct {
		name   string
		logger func(b *testing.B) *slog.Logger
		value  string
	}{
		{name: "json/bare", logger: func(*testing.B) *slog.Logger {
			return slog.New(slog.NewJSONHandler(io.Discard, nil))
		}, value: "acme"},
		{name: "json/redactor", logger: newLogger("json", secrets), value: "acme"},
		{name: "json/redacting", logger: newLogger("json", secrets), value: "key " + secrets[0]},
		{name: "text/redactor", logger: newLogger("text", secrets), value: "acme"},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			log := bb.logger(b)
			b.ReportAllocs()
			for b.Loop() {
				log.Info("request done",
					"customer", bb.value,
					"model", "gpt-4o-mini",
					"status", 200,
					"took", 1500*time.Microsecond,
					slog.Group("usage", "input", 120, "output", 48),
				)
			}
		})
	}
}

// newLogger returns a constructor of a New logger writing to io.Discard.
func newLogger(format string, secrets []string) func(b *testing.B) *slog.Logger {
	return func(b *testing.B) *slog.Logger {
		b.Helper()
		log, err := New(io.Discard, "info", format, secrets...)
		if err != nil {
			b.Fatal(err)
		}
		return log
	}
}
