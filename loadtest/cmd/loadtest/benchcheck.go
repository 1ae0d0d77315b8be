package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tollgate-dev/tollgate/loadtest"
)

func benchCheckCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseline := fs.String("baseline", "docs/bench-baseline.txt", "committed `file` of `go test -bench` output")
	current := fs.String("current", "", "`file` of a fresh `go test -bench` run")
	tol := fs.Float64("tolerance", 0.25, "time/op may grow by this `fraction` before it counts as slower")
	update := fs.Bool("update", false, "replace the baseline with --current instead of comparing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *current == "" {
		fmt.Fprintln(stderr, "loadtest bench-check: --current is required")
		return 2
	}
	cur, err := os.ReadFile(*current)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest bench-check: %v\n", err)
		return 1
	}
	if *update {
		if err := os.WriteFile(*baseline, cur, 0o644); err != nil {
			fmt.Fprintf(stderr, "loadtest bench-check: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "bench-check: %s now holds the figures of %s\n", *baseline, *current)
		return 0
	}
	bf, err := os.Open(*baseline)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest bench-check: %v (make one with `make bench-check BENCH_UPDATE=1`)\n", err)
		return 1
	}
	base, _, err := loadtest.ParseBench(bf)
	bf.Close()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest bench-check: %s: %v\n", *baseline, err)
		return 1
	}
	cf, _ := os.Open(*current)
	now, failed, err := loadtest.ParseBench(cf)
	cf.Close()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest bench-check: %s: %v\n", *current, err)
		return 1
	}
	deltas, onlyBase, onlyCur := loadtest.CompareBench(base, now, *tol)
	if loadtest.WriteBenchCheck(stdout, deltas, onlyBase, onlyCur, failed, *tol) > 0 {
		return 1
	}
	return 0
}
