package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/internal/tracing"
)

// validate checks a config as serve would, building the pipeline, without
// starting anything; with virtual keys on, it reads them as serve would.
// What serve would warn about at start (a provider without its API key, no
// virtual keys, an admin listener open to other hosts without a token) is
// printed as warnings: the config is still valid.
func validate(args []string, stdout, stderr io.Writer) int {
	cfg, _, err := loadConfig("validate", args, stdout, stderr)
	if err != nil {
		return loadFailed(stderr, err)
	}
	quiet := *cfg
	quiet.Log.Level, quiet.Log.Format = "warn", "text"
	base, err := newLogger(&quiet, stderr)
	if err != nil {
		printError(stderr, err)
		return 1
	}
	var warnings atomic.Int64
	log := slog.New(counted{base.Handler(), &warnings})
	adminToken(cfg, log) // for its warning
	ups, err := tollgate.Upstreams(cfg, log)
	if err == nil {
		err = tollgate.CheckPipeline(cfg, ups, log) // opens no files: a running gateway may hold them
	}
	errs := []error{err, tracing.CheckEnv()} // serve would not start with OTEL_* variables it cannot use
	if cfg.Auth.VirtualKeys {
		_, err := openKeys(cfg, log) // nor without the keys
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		printError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "tollgate: the configuration is valid (%s, %s)", count(len(cfg.Pipeline), "stage"), count(len(cfg.Providers), "provider"))
	switch n := warnings.Load(); n {
	case 0:
		fmt.Fprintln(stdout)
	case 1:
		fmt.Fprintln(stdout, ", with the warning above")
	default:
		fmt.Fprintf(stdout, ", with the %s above\n", count(int(n), "warning"))
	}
	return 0
}

// count says "1 stage", "3 stages".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// counted counts the warnings and errors its handler is given.
type counted struct {
	slog.Handler
	n *atomic.Int64
}

func (c counted) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		c.n.Add(1)
	}
	return c.Handler.Handle(ctx, r)
}

func (c counted) WithAttrs(attrs []slog.Attr) slog.Handler {
	return counted{c.Handler.WithAttrs(attrs), c.n}
}

func (c counted) WithGroup(name string) slog.Handler {
	return counted{c.Handler.WithGroup(name), c.n}
}
