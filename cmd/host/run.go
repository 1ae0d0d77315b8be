package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `tollgate — a pluggable gateway for LLM API calls

Usage:
  tollgate serve [--config FILE] [flags]   run the gateway (embedded default config without --config)
  tollgate validate [--config FILE]        check a config: exit 0, or print every problem and exit 1
  tollgate config default|show             the embedded default config; the one serve would run with, and where each value was set
  tollgate mock [--listen ADDR]            run a fake OpenAI-compatible provider (no API key needed)
  tollgate usage status|report|dead-letters|replay|purge|recover
                                           the usage ledger, outbox and dead letters ('tollgate usage help')
  tollgate policy test [-v] [--run REGEX] DIR...
                                           run the Rego policies' unit tests (_test.rego files)
  tollgate keys create|list|revoke|export  virtual keys for clients ('tollgate keys help')
  tollgate plugin inspect FILE.wasm        a WebAssembly plugin's ABI version, hooks and imports, or why it is invalid
  tollgate version                         print the version

Run 'tollgate COMMAND --help' for a command's flags.
`

// run is the whole command, testable without a process: it returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// Only the servers catch SIGINT and SIGTERM, to shut down cleanly. The
	// other commands die of them as any program does: none has anything
	// to flush (the stores they write commit atomically), and one blocked
	// (validate reading a FIFO, usage waiting for an admin API that never
	// answers) would otherwise ignore them.
	ctx := context.Background()
	if args[0] == "serve" || args[0] == "mock" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	case "usage":
		return usageCmd(args[1:], stdout, stderr)
	case "policy":
		return policyCmd(ctx, args[1:], stdout, stderr)
	case "keys":
		return keysCmd(args[1:], stdout, stderr)
	case "plugin":
		return pluginCmd(ctx, args[1:], stdout, stderr)
	case "mock":
		return mock(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		return version(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
