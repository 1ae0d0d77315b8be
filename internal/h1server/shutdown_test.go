package h1server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/h1server"
)

// TestShutdownWaitsForActive: Shutdown closes the listener and an idle
// connection, waits for the request in flight, which gets its answer,
// and Serve returns http.ErrServerClosed.
func TestShutdownWaitsForActive(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv := &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	idleBR := bufio.NewReader(idle)
	resp, err := http.ReadResponse(idleBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- resp.Status + " " + string(b)
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(waitCtx(t)) }()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	// The idle connection is closed: a read ends.
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("the idle connection got a byte; want it closed")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	if got := <-answered; got != "200 OK done" {
		t.Errorf("the request in flight got %q", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

// TestShutdownHonoursContext: a request that does not end lets Shutdown
// return the context's error; Close then cuts it.
func TestShutdownHonoursContext(t *testing.T) {
	started := make(chan struct{})
	srv := &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // ends when Close kills the connection
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	got := make(chan error, 1)
	go func() {
		_, err := http.Get("http://" + ln.Addr().String() + "/")
		got <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := <-got; err == nil {
		t.Error("the request in flight was answered; want it cut by Close")
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

// TestHijack hands the connection over, with what was already read.
func TestHijack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer c.Close()
		line, _ := rw.ReadString('\n')
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(line)) + "\r\n\r\n" + line)
		rw.Flush()
	})
	differential(t, h, settings{}, func(t *testing.T, addr string) string {
		return exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest\n", "GET")
	})
}
