package h1server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/h1server"
)

// TestBaseContextCancelsRequests: as in net/http, the requests accepted on
// a listener derive from BaseContext's context, so cancelling it cancels
// those in flight, with its cause (the host says why it cut them), and
// its values reach the handler. FromStandard copies it.
func TestBaseContextCancelsRequests(t *testing.T) {
	type key struct{}
	for _, e := range []struct {
		name  string
		serve func(std *http.Server) (func(net.Listener) error, func() error)
	}{
		{"net-http", func(std *http.Server) (func(net.Listener) error, func() error) { return std.Serve, std.Close }},
		{"h1server", func(std *http.Server) (func(net.Listener) error, func() error) {
			s := h1server.FromStandard(std)
			return s.Serve, s.Close
		}},
	} {
		t.Run(e.name, func(t *testing.T) {
			cut := errors.New("cut at shutdown")
			base, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "base"))
			entered := make(chan struct{})
			seen := make(chan string, 1)
			std := &http.Server{
				BaseContext: func(net.Listener) context.Context { return base },
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					close(entered)
					<-r.Context().Done()
					v, _ := r.Context().Value(key{}).(string)
					seen <- v + ": " + context.Cause(r.Context()).Error()
				}),
			}
			serve, closeFn := e.serve(std)
			addr := serveOn(t, serve, closeFn)
			go http.Get("http://" + addr + "/")
			<-entered
			cancel(cut)
			select {
			case got := <-seen:
				if got != "base: cut at shutdown" {
					t.Errorf("the handler saw %q, want the base's value and its cause", got)
				}
			case <-time.After(10 * time.Second): // a hang guard
				t.Fatal("cancelling the base context did not cancel the request")
			}
		})
	}
}
