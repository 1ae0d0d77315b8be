package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/sysmon"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

func TestServerEngineIsChosen(t *testing.T) {
	std := &http.Server{}
	if _, ok := newHTTPServer(std, config.EngineInline).(*h1server.Server); !ok {
		t.Error("server.engine inline does not serve with h1server")
	}
	if got := newHTTPServer(std, config.EngineStandard); got != std {
		t.Errorf("server.engine standard serves with %T, want the *http.Server", got)
	}
}

// TestServerEngines runs the gateway on each engine: a call and a stream
// are answered on one kept-alive connection, and a client that hangs up
// while the upstream is still thinking cancels the upstream call and is
// tracked as client_aborted.
func TestServerEngines(t *testing.T) {
	for _, engine := range []string{config.EngineInline, config.EngineStandard} {
		t.Run(engine, func(t *testing.T) {
			up := providertest.NewServer(t)
			h := startOps(t, up.URL, opsConfig+"server: {engine: "+engine+"}\n", "E2E_OPENAI_KEY="+plantedKey)
			addr := strings.TrimPrefix(h.url, "http://")

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails, it is not a measure
			br := bufio.NewReader(conn)
			stream := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream please"}]}`
			for _, body := range []string{chat, stream} {
				io.WriteString(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\n"+
					"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || resp.Close {
					t.Fatalf("%d close=%v %s", resp.StatusCode, resp.Close, b)
				}
			}

			up.Reset()
			hang, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(hang, "POST /v1/chat/completions HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\n"+
				providertest.FaultHeader+": latency=60s\r\nContent-Length: "+strconv.Itoa(len(chat))+"\r\n\r\n"+chat)
			opsWait(t, 10*time.Second, "the upstream to get the call", func() bool { return len(up.Requests()) == 1 })
			hang.Close()
			select {
			case <-up.Cancelled():
			case <-time.After(20 * time.Second):
				t.Fatal("the upstream call was not cancelled when the client hung up")
			}
			opsWait(t, 10*time.Second, "the abort to be tracked", func() bool {
				for _, ev := range h.events(t) {
					if ev.Status == core.StatusClientAborted {
						return true
					}
				}
				return false
			})
		})
	}
}

// TestServeRestartsWithTheMonitorAwake: tollgate serve replaces itself in
// place (the pid it was started as) with the setting that keeps Go's
// system monitor polling added to the GODEBUG it was given, unless
// server.sysmon_awake is off or the operator set a schedtrace.
func TestServeRestartsWithTheMonitorAwake(t *testing.T) {
	up := providertest.NewServer(t)
	for _, tt := range []struct {
		name, want string
		env        []string
		awake      bool
	}{
		{"default", "http2client=0," + sysmon.Setting, []string{"GODEBUG=http2client=0"}, true},
		{"off", "http2client=0", []string{"GODEBUG=http2client=0", "TOLLGATE_SERVER__SYSMON_AWAKE=false"}, false},
		{"operator's schedtrace", "schedtrace=0", []string{"GODEBUG=schedtrace=0"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := startHost(t, up.URL, append(tt.env, "E2E_OPENAI_KEY="+plantedKey)...)
			// /proc/PID/environ is the environment the running image was
			// started with: after the restart, the one serve gave it.
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", h.cmd.Process.Pid))
			if err != nil {
				t.Skipf("needs /proc: %v", err)
			}
			var godebug []string
			for kv := range strings.SplitSeq(string(b), "\x00") {
				if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
					godebug = append(godebug, v)
				}
			}
			if len(godebug) != 1 || godebug[0] != tt.want {
				t.Errorf("the serving process's GODEBUG = %q, want [%q]", godebug, tt.want)
			}
			if code, _, body := h.post(t, chat); code != http.StatusOK {
				t.Errorf("call after the restart: %d %s", code, body)
			}
			if want := fmt.Sprintf(`"sysmon_awake":%v`, tt.awake); !strings.Contains(h.stderr.String(), want) {
				t.Errorf("the serving log line does not say %s:\n%s", want, h.stderr)
			}
			h.stop(t)
		})
	}
}

// TestSignalsDuringShutdown: the signal that began the shutdown does
// nothing more, the second cuts it short, a third gives up; once the
// shutdown is over the watch ends and no signal does anything.
func TestSignalsDuringShutdown(t *testing.T) {
	stops := make(chan os.Signal, 3)
	stops <- os.Interrupt // the one that began the shutdown
	var cut, gaveUp atomic.Int32
	stop := shortenOnSignal(stops, true, slog.New(slog.DiscardHandler), func() { cut.Add(1) }, func() { gaveUp.Add(1) })
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) { // a hang guard
				t.Fatalf("%s: cut %d times, gave up %d times", what, cut.Load(), gaveUp.Load())
			}
		}
	}
	waitUntil("the first signal taken", func() bool { return len(stops) == 0 })
	if cut.Load() != 0 {
		t.Fatal("the signal that began the shutdown cut it short")
	}
	stops <- os.Interrupt
	waitUntil("a second signal cuts the shutdown short", func() bool { return cut.Load() == 1 })
	if gaveUp.Load() != 0 {
		t.Fatal("the second signal gave up")
	}
	stops <- os.Interrupt
	waitUntil("a third signal gives up", func() bool { return gaveUp.Load() == 1 })
	stop()
	if cut.Load() != 1 {
		t.Errorf("cut %d times, want once", cut.Load())
	}
}
