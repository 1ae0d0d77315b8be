// Package logging builds the process logger: slog with tint for people and
// JSON for machines, behind a handler that redacts credentials.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lmittmann/tint"
)

// textTimeFormat is the time format of the text format, which may end up in
// a file and so carries the date. A terminal gets tint's shorter default.
const textTimeFormat = "2006-01-02 15:04:05.000"

// New returns a logger that writes to w at the given level and format, and
// redacts credentials: see NewRedactor for what is redacted, and secrets
// for the values that are replaced wherever they appear.
//
// level is debug, info, warn or error (empty means info). format is:
//
//   - auto (or empty): coloured text by tint when w is an *os.File on a
//     terminal, JSON otherwise. The NO_COLOR environment variable, when
//     set and not empty, turns the colour off.
//   - text: tint's text, without colour.
//   - json: slog's JSON handler.
//
// The logger is safe for concurrent use.
//
// # Errors
//
// New fails when level or format is not one of the values above; the error
// names the bad value.
func New(w io.Writer, level, format string, secrets ...string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	h, err := newHandler(w, lvl, format, isTerminal(w), os.Getenv("NO_COLOR") != "")
	if err != nil {
		return nil, err
	}
	return slog.New(NewRedactor(h, secrets...)), nil
}

// newHandler picks the handler for format; terminal says whether w is one.
func newHandler(w io.Writer, lvl slog.Level, format string, terminal, noColor bool) (slog.Handler, error) {
	switch format {
	case "", "auto":
		if terminal {
			return tint.NewTextHandler(w, &tint.Options{Level: lvl, NoColor: noColor}), nil
		}
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}), nil
	case "text":
		return tint.NewTextHandler(w, &tint.Options{Level: lvl, NoColor: true, TimeFormat: textTimeFormat}), nil
	case "json":
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}), nil
	}
	return nil, fmt.Errorf("logging: unknown format %q: want auto, text or json", format)
}

// ParseLevel parses a level name: debug, info, warn or error, in any case.
// Empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q: want debug, info, warn or error", s)
}

// isTerminal reports whether w is an *os.File open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminalFd(f.Fd())
}
