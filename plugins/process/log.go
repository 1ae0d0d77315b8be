package process

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogger returns an hclog.Logger that writes to log: go-plugin's own
// messages and the plugin's relayed log lines.
func hclogger(log *slog.Logger) hclog.Logger {
	level := hclog.Info
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Output: &slogWriter{log: log}, JSONFormat: true, Level: level})
}

// slogWriter turns hclog's JSON lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(b []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			w.log.Info(string(line))
			continue
		}
		msg, _ := rec["@message"].(string)
		lv, _ := rec["@level"].(string)
		var level slog.Level
		switch lv {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		var args []any
		for k, v := range rec {
			if k[0] != '@' {
				args = append(args, k, v)
			}
		}
		w.log.Log(context.Background(), level, msg, args...)
	}
	return len(b), nil
}
