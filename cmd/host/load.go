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

// flagSet is a command's flags.
type flagSet = *pflag.FlagSet

// loadConfig parses flags and loads the config they point at. --help
// lists the flags on stdout; a command line that does not parse is said
// on stderr.
func loadConfig(name string, args []string, stdout, stderr io.Writer) (*config.Config, flagSet, error) {
	return loadConfigWith(name, args, stdout, stderr, func(flagSet) {})
}

// loadConfigWith is loadConfig with a command's own flags added. A
// command line that does not parse, or asks for --help, is an exitCode
// (loadFailed).
func loadConfigWith(name string, args []string, stdout, stderr io.Writer, extra func(flagSet)) (*config.Config, flagSet, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.StringP("config", "c", "", "config `file` (YAML); without it, the embedded default")
	extra(fs)
	config.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n%s\nAny other key of a config section is a flag too, written with dots:\n  --server.idle-timeout 60s, --metrics.enabled false (docs/configuration.md)\n",
			name, fs.FlagUsages())
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return nil, fs, exitCode(code)
	}
	if !takesArgs[name] {
		if code, ok := noArgs(fs, stderr); !ok {
			return nil, fs, exitCode(code)
		}
	}
	path, _ := fs.GetString("config")
	cfg, err := config.Load(config.Options{Path: path, Flags: fs})
	return cfg, fs, err
}

// parseFlags parses args into fs. When the command cannot go on, it
// returns the exit code and false: 0 after --help (pflag has printed the
// flags, or fs.Usage, on stdout), 2 after a command line pflag refused,
// which it says on stderr.
func parseFlags(fs flagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stdout) // only --help writes there: the errors are said below
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, pflag.ErrHelp):
		return 0, false
	}
	fmt.Fprintf(stderr, "tollgate %s: %v (tollgate %[1]s --help lists the flags)\n", fs.Name(), err)
	return 2, false
}

// takesArgs names the commands that load a config and take arguments
// besides flags.
var takesArgs = map[string]bool{"keys revoke": true}

// noArgs refuses arguments left after the flags, with exit code 2: a file
// named without --config would otherwise be ignored, and `tollgate
// validate broken.yaml` would check the embedded default and say valid.
func noArgs(fs flagSet, stderr io.Writer) (code int, ok bool) {
	if fs.NArg() == 0 {
		return 0, true
	}
	hint := ""
	if fs.Lookup("config") != nil {
		hint = fmt.Sprintf("; a config file goes after --config: tollgate %s --config %s", fs.Name(), fs.Arg(0))
	}
	fmt.Fprintf(stderr, "tollgate %s: unexpected argument %q%s\n", fs.Name(), fs.Arg(0), hint)
	return 2, false
}

// askedHelp answers a command that was given no subcommand, or asked for
// help, with its usage text: on stdout and exit 0 when asked, on stderr
// and exit 2 when missing. done is false when args name a subcommand.
func askedHelp(args []string, usage string, stdout, stderr io.Writer) (code int, done bool) {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return 2, true
	case args[0] == "help" || isHelp(args[0]):
		fmt.Fprint(stdout, usage)
		return 0, true
	}
	return 0, false
}

// isHelp reports whether arg asks for help as a flag.
func isHelp(arg string) bool { return arg == "--help" || arg == "-h" }

// exitCode is a failure already reported, as the exit code it ends with.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// loadFailed reports why loadConfig failed and returns the exit code: a
// command line's (exitCode), or 1 for a configuration with problems.
func loadFailed(stderr io.Writer, err error) int {
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	printError(stderr, err)
	return 1
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
	for _, name := range cfg.SecretVars() {
		if v, ok := cfg.Lookup(name); ok && v != "" {
			secrets = append(secrets, v)
		}
	}
	return logging.New(stderr, cfg.Log.Level, cfg.Log.Format, secrets...)
}

// buildEngine builds the engine for cfg.
func buildEngine(cfg *config.Config, log *slog.Logger, opts ...tollgate.Option) (*core.Engine, error) {
	return tollgate.New(cfg, log, opts...)
}
