package h1server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHangupCheckDelay is how long a handler runs before the server
// starts watching its connection for a hang-up, when
// Server.HangupCheckDelay is 0. A proxy's calls on a fast network end
// before it; a client that hangs up on a longer call is noticed at most
// this late, which is nothing beside the upstream time it saves.
const DefaultHangupCheckDelay = 5 * time.Millisecond

// Server serves HTTP/1.1 over plain TCP with the fields of http.Server
// that a gateway needs. Its fields must not change after Serve is called.
// A Server is safe for concurrent use: Serve, Shutdown and Close may be
// called from any goroutine.
type Server struct {
	// Handler answers requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers; 0 means none.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection; 0 means none.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request head (with net/http's 4 KiB of
	// slack); 0 means http.DefaultMaxHeaderBytes. Past it the client gets
	// 431.
	MaxHeaderBytes int
	// ErrorLog receives the errors net/http's server would log (panics
	// with their stack, bad Content-Length values); nil means the log
	// package's standard logger.
	ErrorLog *log.Logger
	// HangupCheckDelay is how long a handler runs before its connection
	// is watched for a client hang-up (see the package doc); 0 means
	// DefaultHangupCheckDelay, a negative value watches at once, as
	// net/http does.
	HangupCheckDelay time.Duration
	// DisableGeneralOptionsHandler passes "OPTIONS *" to Handler instead
	// of answering it 200, as in net/http.
	DisableGeneralOptionsHandler bool
	// BaseContext, as net/http's, returns the context the requests
	// accepted on a listener derive from; nil means context.Background().
	// Cancelling it cancels them, with its cause.
	BaseContext func(net.Listener) context.Context

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	serving    sync.WaitGroup // Serve calls still accepting
}

// Serve accepts connections on ln and serves each on its own goroutine.
// It returns http.ErrServerClosed after Shutdown or Close, and otherwise
// the listener's error; it closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	l := &ln
	defer ln.Close()
	if !s.trackListener(l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(l, false)
	base := context.Background()
	if s.BaseContext != nil {
		if base = s.BaseContext(ln); base == nil {
			panic("h1server: BaseContext returned a nil context")
		}
	}
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			// Too many open files and the like pass: wait and try again,
			// as net/http does.
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("h1server: accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc, base)
		if !s.trackConn(c, true) {
			nc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops the server gracefully: it closes the listeners and the
// idle connections, then waits for the active ones to finish their
// request and close, or for ctx to end, whose error it returns then.
// Serve returns http.ErrServerClosed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	s.mu.Unlock()
	s.serving.Wait()

	poll := time.Millisecond
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		if s.closeIdleConns() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			// net/http's pace: double from 1 ms to 500 ms, 10% jitter.
			poll = min(2*poll, 500*time.Millisecond)
			timer.Reset(poll + rand.N(poll/10+1))
		}
	}
}

// Close closes the listeners and every connection at once, cutting the
// requests in flight. Serve returns http.ErrServerClosed.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.nc.Close()
		delete(s.conns, c)
	}
	return err
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		s.serving.Done()
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.serving.Add(1)
	return true
}

func (s *Server) closeListenersLocked() error {
	var errs []error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

// closeIdleConns closes the connections waiting for a request (and new
// ones that sent nothing for 5 s, as net/http does) and reports whether
// none is left serving one.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	quiescent := true
	for c := range s.conns {
		st, since := c.getState()
		if st == stateNew && time.Since(since) > 5*time.Second {
			st = stateIdle
		}
		if st != stateIdle {
			quiescent = false
			continue
		}
		c.nc.Close()
		delete(s.conns, c)
	}
	return quiescent
}

func (s *Server) handler() http.Handler {
	if s.Handler == nil {
		return http.DefaultServeMux
	}
	return s.Handler
}

// handlerFor is the handler that answers req. "OPTIONS *" asks about the
// server, not a resource: it is answered as net/http's server answers it
// (200, no body), unless DisableGeneralOptionsHandler passes it on.
func (s *Server) handlerFor(req *http.Request) http.Handler {
	if req.RequestURI == "*" && req.Method == "OPTIONS" && !s.DisableGeneralOptionsHandler {
		return generalOptions{}
	}
	return s.handler()
}

// generalOptions answers "OPTIONS *" as net/http's server does: no body,
// and at most 4 KiB of the request's body read (the spec reserves it for
// future use; more is a waste or an attack, and closes the connection).
type generalOptions struct{}

func (generalOptions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

func (s *Server) maxHeaderBytes() int64 {
	n := s.MaxHeaderBytes
	if n <= 0 {
		n = http.DefaultMaxHeaderBytes
	}
	return int64(n) + 4096 // net/http's slack for the bufio.Reader's read-ahead
}

func (s *Server) hangupCheckDelay() time.Duration {
	if s.HangupCheckDelay == 0 {
		return DefaultHangupCheckDelay
	}
	return s.HangupCheckDelay
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Output(2, fmt.Sprintf(format, args...))
		return
	}
	log.Output(2, fmt.Sprintf(format, args...))
}
