package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/loadtest"
)

// cyclesCmd says where the slow calls of a traced c=1 run spent their
// time: the gateway itself, or waiting for the upstream or the client.
func cyclesCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cycles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("trace", "", "execution trace `file` from `loadtest profile --trace` (run it at --concurrency 1)")
	slow := fs.Duration("slow", 400*time.Microsecond, "a cycle at least this long is slow")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "loadtest cycles: --trace is required")
		return 2
	}
	f, err := os.Open(*path)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest cycles: %v\n", err)
		return 1
	}
	defer f.Close()
	cycles, err := loadtest.Cycles(f)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest cycles: %s: %v\n", *path, err)
		return 1
	}
	if len(cycles) == 0 {
		fmt.Fprintf(stderr, "loadtest cycles: %s: no h1server connection wrote two responses in the traced window\n", *path)
		return 1
	}
	lengths := make([]time.Duration, len(cycles))
	for i, c := range cycles {
		lengths[i] = c.Length
	}
	slices.Sort(lengths)
	fmt.Fprintf(stdout, "%d cycles (one response write to the next): p50 %v, p99 %v, max %v\n",
		len(cycles), lengths[len(lengths)/2], lengths[len(lengths)*99/100], lengths[len(lengths)-1])
	var n, gc, gcAll int
	var own, up, client, other time.Duration
	by := map[string]int{}
	// What else of the gateway ran beside each cycle, in all and in the
	// slow ones: a kind that runs far longer in slow cycles slows them.
	all, slowOnes := map[string]time.Duration{}, map[string]time.Duration{}
	for _, c := range cycles {
		for k, d := range c.Beside {
			all[k] += d
		}
		if c.GC {
			gcAll++
		}
		if c.Length < *slow {
			continue
		}
		for k, d := range c.Beside {
			slowOnes[k] += d
		}
		n++
		by[c.Cause()]++
		own, up, client, other = own+c.Own, up+c.Upstream, client+c.Client, other+c.Other
		if c.GC {
			gc++
		}
	}
	if n == 0 {
		fmt.Fprintf(stdout, "no cycle took %v or more\n", *slow)
		return 0
	}
	total := own + up + client + other
	pct := func(d time.Duration) float64 { return 100 * float64(d) / float64(max(total, 1)) }
	fmt.Fprintf(stdout, "%d cycles of %v or more (%d overlap a collection, against %.1f%% of all cycles); mostly: the gateway itself %d, the upstream %d, the client %d, other waits %d\n",
		n, *slow, gc, 100*float64(gcAll)/float64(len(cycles)), by["gateway"], by["upstream"], by["client"], by["other"])
	fmt.Fprintf(stdout, "their time: the gateway itself %.0f%% (running, runnable, system calls), waiting for the upstream %.0f%%, for the client %.0f%%, other %.0f%%\n",
		pct(own), pct(up), pct(client), pct(other))
	fmt.Fprintf(stdout, "the gateway's other goroutines ran, per cycle (slow ones / all):\n")
	for _, k := range loadtest.Kinds {
		fmt.Fprintf(stdout, "  %-36s %7.1fµs / %6.1fµs\n", k,
			float64(slowOnes[k].Microseconds())/float64(n), float64(all[k].Microseconds())/float64(len(cycles)))
	}
	return 0
}
