package loadtest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime/trace"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/h1transport"
)

// TestCyclesSplitsTheWait traces a gateway-shaped server (h1server, calling
// an upstream with h1transport) serving sequential calls on one
// connection, with one slow upstream answer and one slow client, and
// checks that Cycles blames each on the right side. The slow upstream
// spins first (it runs in the test's process, as another goroutine of
// "the gateway"): its cycle must count that beside the call. The spin is
// long, and two untraced calls open the connections and warm both servers,
// so that no other cycle comes near half of it under -race on a busy
// machine (an unwarmed first call once had 3.8 ms of other goroutines
// beside it against a 6 ms spin).
func TestCyclesSplitsTheWait(t *testing.T) {
	const pause, spin = 20 * time.Millisecond, 20 * time.Millisecond
	upstream := serve(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("slow") {
			for end := time.Now().Add(spin); time.Now().Before(end); {
			}
			time.Sleep(pause)
		}
		io.WriteString(w, `{"ok":true}`)
	})})
	rt := &h1transport.Transport{}
	gateway := serve(t, &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://"+upstream+r.URL.RequestURI(), nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})})

	client := &http.Client{Transport: &h1transport.Transport{}}
	for range 2 {
		resp, err := client.Get("http://" + gateway + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Skipf("a trace is already running: %v", err)
	}
	paths := []string{"/", "/", "/?slow", "/", "client-pause", "/", "/"}
	for _, p := range paths {
		if p == "client-pause" {
			time.Sleep(pause)
			p = "/"
		}
		resp, err := client.Get("http://" + gateway + p)
		if err != nil {
			trace.Stop()
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	trace.Stop()

	cycles, err := Cycles(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// A cycle ends with a response write, so the first call opens one; the
	// last write's end may fall after trace.Stop, so its cycle may be cut.
	if len(cycles) < len(paths)-2 || len(cycles) > len(paths)-1 {
		t.Fatalf("%d cycles, want %d or %d: %+v", len(cycles), len(paths)-2, len(paths)-1, cycles)
	}
	// cycles[i] ends with call i+1's response.
	if c := cycles[1]; c.Cause() != "upstream" || c.Upstream < pause/2 {
		t.Errorf("the slow upstream's cycle: cause %s, %+v", c.Cause(), c)
	}
	if c := cycles[3]; c.Cause() != "client" || c.Client < pause/2 {
		t.Errorf("the paused client's cycle: cause %s, %+v", c.Cause(), c)
	}
	if got := cycles[1].Beside[KindOther]; got < spin/2 {
		t.Errorf("the slow upstream's cycle: %v of other goroutines beside it, want the %v spin: %+v", got, spin, cycles[1])
	}
	for i, c := range cycles {
		if sum := c.Own + c.Upstream + c.Client + c.Other; sum > c.Length {
			t.Errorf("cycle %d: parts %v over its length %v", i, sum, c.Length)
		}
		if i != 1 && c.Beside[KindOther] >= spin/2 {
			t.Errorf("cycle %d: %v of other goroutines beside it, with nothing spinning: %+v", i, c.Beside[KindOther], c)
		}
	}
}

func TestCyclesRefusesWhatIsNotATrace(t *testing.T) {
	if _, err := Cycles(bytes.NewReader([]byte("not a trace"))); err == nil {
		t.Fatal("no error for a file that is not a trace")
	}
}

// serve starts srv on a loopback port until the test ends.
func serve(t *testing.T, srv interface {
	Serve(net.Listener) error
	Close() error
}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// Each kind of goroutine is told by a function on its stack, whatever the
// frames around it; a stack with none of them is "other".
func TestKindOfFuncs(t *testing.T) {
	for _, tt := range []struct {
		funcs []string
		want  string
	}{
		{[]string{"runtime.gopark", "runtime.gcBgMarkWorker"}, KindMark},
		{[]string{"runtime.goparkunlock", "runtime.bgsweep", "runtime.gcenable.gowrap1"}, KindSweep},
		{[]string{"runtime.bgscavenge"}, KindSweep},
		{[]string{"internal/poll.(*FD).Fsync", "github.com/tollgate-dev/tollgate/tracking.(*Outbox).writeLoop"}, KindWriter},
		{[]string{"github.com/tollgate-dev/tollgate/tracking.(*worker).run"}, KindDelivery},
		{[]string{"net.(*conn).Read", "github.com/tollgate-dev/tollgate/internal/h1server.(*conn).serve"}, KindConns},
		{[]string{"runtime.gopark", "runtime.ReadTrace", "runtime/trace.(*traceMultiplexer).startLocked.func1"}, KindTracer},
		{[]string{"runtime/trace.Start.func1"}, KindTracer},
		{[]string{"main.main", "runtime.main"}, KindOther},
		{nil, KindOther},
	} {
		if got := kindOfFuncs(tt.funcs); got != tt.want {
			t.Errorf("kindOfFuncs(%q) = %q, want %q", tt.funcs, got, tt.want)
		}
	}
}
