package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logging"
)

// loadConfig parses flags and loads the config they point at.
func loadConfig(name string, args []string, stderr io.Writer) (*config.Config, *pflag.FlagSet, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringP("config", "c", "", "config `file` (YAML); without it, the embedded default")
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	path, _ := fs.GetString("config")
	cfg, err := config.Load(config.Options{Path: path, Flags: fs})
	return cfg, fs, err
}

// printError prints a config error one problem per line.
func printError(w io.Writer, err error) {
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(w, "tollgate: the configuration has problems:")
		for _, p := range ce.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		return
	}
	fmt.Fprintln(w, "tollgate: the configuration has problems:")
	for _, e := range flatten(err) {
		fmt.Fprintf(w, "  - %s\n", e)
	}
}

// flatten splits an errors.Join tree into its leaves.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// newLogger builds the process logger, redacting every configured key.
func newLogger(cfg *config.Config, stderr io.Writer) (*slog.Logger, error) {
	var secrets []string
	for name := range cfg.Providers {
		if key, _, ok := cfg.APIKey(name); ok && key != "" {
			secrets = append(secrets, key)
		}
	}
	for _, env := range []string{cfg.Redis.PasswordEnv, cfg.Admin.TokenEnv, cfg.Alerts.WebhookURLEnv} {
		if env == "" {
			continue
		}
		if v, ok := cfg.Lookup(env); ok && v != "" {
			secrets = append(secrets, v)
		}
	}
	return logging.New(stderr, cfg.Log.Level, cfg.Log.Format, secrets...)
}

// buildEngine builds the engine for cfg.
func buildEngine(cfg *config.Config, log *slog.Logger, opts ...tollgate.Option) (*core.Engine, error) {
	return tollgate.New(cfg, log, opts...)
}
