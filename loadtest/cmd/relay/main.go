// Command relay is the load harness's floor for any proxy: a TCP relay to
// one upstream that copies bytes both ways and parses nothing
// (loadtest.Relay). It prints its address on the first line of stdout and
// serves until SIGINT or SIGTERM.
//
//	relay --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tollgate-dev/tollgate/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to listen on")
	upstream := fs.String("upstream", "", "upstream base `URL` (loopback); only its host:port is used")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	target, err := loadtest.ParseUpstream(*upstream)
	if err != nil {
		fmt.Fprintf(stderr, "relay: --upstream: %v\n", err)
		return 2
	}
	ln, err := loadtest.ListenLoopback(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "relay: %v\n", err)
		return 1
	}
	return loadtest.ServeRelay(ln, target.Host, stdout, stderr)
}
