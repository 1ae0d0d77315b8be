// Command upstream is the load harness's lean fake OpenAI provider: answers
// precomputed once by providertest, served from memory (see
// loadtest.Canned). It prints its address on the first line of stdout and
// serves until SIGINT or SIGTERM.
//
//	upstream [--listen 127.0.0.1:0]
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tollgate-dev/tollgate/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := loadtest.ListenLoopback(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "upstream: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: loadtest.NewCanned(), ReadHeaderTimeout: 10 * time.Second}
	return loadtest.Serve("upstream", srv, ln, stdout, stderr)
}
