//go:build unix

package loadtest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startRelay relays to upstream on a fresh loopback port until the test ends.
func startRelay(t *testing.T, upstream string) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Relay(ln, upstream)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestRelayKeepsOneUpstreamConnectionPerClientConnection(t *testing.T) {
	var (
		mu      sync.Mutex
		remotes []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte("echo:" + string(body)))
	}))
	defer up.Close()
	addr := startRelay(t, up.Listener.Addr().String())

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 5 * time.Second}
	for _, msg := range []string{"one", "two", "three"} {
		resp, err := client.Post("http://"+addr+"/v1/chat/completions", "text/plain", strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "echo:"+msg {
			t.Fatalf("through the relay: got %q, want %q", got, "echo:"+msg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 3 || remotes[0] != remotes[1] || remotes[1] != remotes[2] {
		t.Fatalf("the upstream saw the calls from %v, want one keep-alive connection", remotes)
	}
}

func TestRelayPassesEachSidesCloseOn(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	upGot := make(chan string, 1)
	go func() {
		c, err := up.Accept()
		if err != nil {
			upGot <- err.Error()
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's half-close arrives as EOF
		upGot <- string(b)
		c.Write([]byte("pong"))
	}()
	addr := startRelay(t, up.Addr().String())

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("ping"))
	c.(*net.TCPConn).CloseWrite()
	select {
	case got := <-upGot:
		if got != "ping" {
			t.Fatalf("the upstream read %q, want ping then EOF", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client's half-close did not reach the upstream")
	}
	b, err := io.ReadAll(c) // until the upstream's close arrives as EOF
	if err != nil || string(b) != "pong" {
		t.Fatalf("the client read %q (%v), want pong then EOF", b, err)
	}
}

func TestRelayClosesTheClientWhenTheUpstreamIsDown(t *testing.T) {
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close()
	addr := startRelay(t, downAddr)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from the relay with its upstream down: %d bytes, %v; want EOF", n, err)
	}
}

func TestRelayReturnsWhenItsListenerCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Relay(ln, "127.0.0.1:1") }()
	ln.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Relay after its listener closed: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Relay did not return after its listener closed")
	}
}

// flakyListener fails its first Accept as an exhausted process would.
type flakyListener struct {
	net.Listener
	failed bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, errors.New("accept tcp: too many open files")
	}
	return l.Listener.Accept()
}

func TestRelayOutlivesAFailedAccept(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go Relay(&flakyListener{Listener: ln}, up.Listener.Addr().String())
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatalf("after one failed accept: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("through the relay: %q", b)
	}
}

// TestServeRelayPrintsItsAddressAndStopsOnSIGTERM: the harness reads the
// relay's address from its first line and stops it with SIGTERM.
func TestServeRelayPrintsItsAddressAndStopsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() { code <- ServeRelay(ln, "127.0.0.1:1", pw, &stderr) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != ln.Addr().String() {
		t.Fatalf("first line %q (%v), want %s", line, err, ln.Addr())
	}
	// The address is printed once the signal is caught: SIGTERM now stops
	// the relay, not the test.
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case c := <-code:
		if c != 0 || stderr.Len() != 0 {
			t.Fatalf("after SIGTERM: exit %d, stderr %q; want 0 and nothing", c, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not stop on SIGTERM")
	}
}
