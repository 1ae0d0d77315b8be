package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// CheckLoopback refuses a host:port whose host is not a loopback address:
// the harness sends load only to this machine.
func CheckLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1 or localhost): the harness only loads this machine", hostport)
	}
	return nil
}

// ParseUpstream reads a helper's --upstream flag: a URL whose host is a
// loopback address.
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("want a URL such as http://127.0.0.1:9090, got %q", raw)
	}
	if err := CheckLoopback(u.Host); err != nil {
		return nil, err
	}
	return u, nil
}

// ListenLoopback listens on addr after checking that it is loopback.
func ListenLoopback(addr string) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	return net.Listen("tcp", addr)
}

// Serve is the main loop of the harness's helper servers: it prints the
// listener's address as the first line of stdout (the harness reads it),
// serves until SIGINT or SIGTERM, then shuts down within 2 seconds. It
// returns the process exit code.
func Serve(name string, srv *http.Server, ln net.Listener, stdout, stderr io.Writer) int {
	return untilSignal(name, ln, stdout, stderr, func() error {
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	}, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

// ServeRelay is [Serve] for the relay: it relays ln to upstream until
// SIGINT or SIGTERM.
func ServeRelay(ln net.Listener, upstream string, stdout, stderr io.Writer) int {
	return untilSignal("relay", ln, stdout, stderr, func() error { return Relay(ln, upstream) }, func() { ln.Close() })
}

// untilSignal prints ln's address, runs serve, and calls stop on SIGINT
// or SIGTERM; serve must then return. It returns the exit code.
func untilSignal(name string, ln net.Listener, stdout, stderr io.Writer, serve func() error, stop func()) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	fmt.Fprintf(stdout, "%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := serve(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
