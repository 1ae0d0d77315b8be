// Command loadtest runs tollgate's load harness and renders its report.
//
//	loadtest run [flags]          start everything, measure, write loadtest/results/<date>.json
//	loadtest report [flags]       tables and plots in docs/benchmarks.md from the newest results
//	loadtest bench-check [flags]  compare `go test -bench` output with the committed baseline
//	loadtest profile [flags]      CPU profile of one gateway config under load
//	loadtest cycles [flags]       where the slow calls of a traced c=1 run spent their time
//
// `make loadtest` and `make bench-check` run them with the right flags; see
// docs/benchmarks.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  loadtest run [flags]          measure: direct, bare proxy and each gateway config
  loadtest report [flags]       write the tables and plots into docs/benchmarks.md
  loadtest bench-check [flags]  compare in-process benchmarks with the baseline
  loadtest profile [flags]      CPU profile of one gateway config under load (loadtest-gatewayprof)
  loadtest cycles [flags]       where the slow calls of a traced c=1 run (profile --trace) spent their time
Run 'loadtest COMMAND -h' for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "profile":
		return profileCmd(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "bench-check":
		return benchCheckCmd(args[1:], stdout, stderr)
	case "cycles":
		return cyclesCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "loadtest: unknown command %q\n%s", args[0], usage)
	return 2
}
