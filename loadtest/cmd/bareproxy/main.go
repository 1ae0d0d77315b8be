// Command bareproxy is the load harness's reference point: a bare
// httputil.ReverseProxy to one upstream, with the keep-alive pool sized like
// the gateway's call stage (256 idle connections per host, where Go's
// default of 2 would make it churn connections under load). It prints its
// address on the first line of stdout and serves until SIGINT or SIGTERM.
//
//	bareproxy --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0]
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"time"

	"github.com/tollgate-dev/tollgate/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to listen on")
	upstream := fs.String("upstream", "", "upstream base `URL` (loopback)")
	idle := fs.Int("max-idle-per-host", 256, "keep-alive connections kept per upstream host")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	target, err := loadtest.ParseUpstream(*upstream)
	if err != nil {
		fmt.Fprintf(stderr, "bareproxy: --upstream: %v\n", err)
		return 2
	}
	ln, err := loadtest.ListenLoopback(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "bareproxy: %v\n", err)
		return 1
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = *idle
	t.MaxIdleConns = *idle * 4
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: t,
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	return loadtest.Serve("bareproxy", srv, ln, stdout, stderr)
}
