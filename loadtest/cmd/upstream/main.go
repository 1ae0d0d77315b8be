// Command upstream is the load harness's lean fake OpenAI provider: answers
// precomputed once by providertest, served from memory (see
// loadtest.Canned). It prints its address on the first line of stdout and
// serves until SIGINT or SIGTERM.
//
//	upstream [--listen 127.0.0.1:0]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
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
	return serve(srv, ln, stdout, stderr)
}

// serve prints the address, serves until a signal, then shuts down.
func serve(srv *http.Server, ln net.Listener, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintf(stderr, "upstream: %v\n", err)
		return 1
	}
	return 0
}
