//go:build unix

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
	"github.com/tollgate-dev/tollgate/tracking"
)

// A second SIGTERM cuts a shutdown short that a call in flight and a
// tracker that never answers would hold for all of server.shutdown_timeout
// (10 minutes here): tollgate exits at once, with 0, and every usage
// event — the cut call's too — is in usage.db, queued for the next start.
// The second signal used to be ignored.
func TestSecondSignalCutsTheShutdownShort(t *testing.T) {
	for _, engine := range []string{config.EngineInline, config.EngineStandard} {
		t.Run(engine, func(t *testing.T) { secondSignalCutsTheShutdownShort(t, engine) })
	}
}

func secondSignalCutsTheShutdownShort(t *testing.T, engine string) {
	posted := make(chan struct{}, 1)
	release := make(chan struct{})
	tracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case posted <- struct{}{}:
		default:
		}
		select { // never answers: a tracker that hangs
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(tracker.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the tracker close
	sink := fmt.Sprintf("{type: http, name: tracker, url: %s, timeout: 10m, batch: {max_age: 0s}}", tracker.URL)
	h, dir, slow := serveWithACallInFlight(t, engine, "10m", sink, func() {
		select {
		case <-posted: // the tracker holds the first batch
		case <-time.After(20 * time.Second):
			t.Fatal("the track stage never posted to the tracker")
		}
	})

	h.cmd.Process.Signal(syscall.SIGTERM)
	opsWait(t, 10*time.Second, "the shutdown to begin", func() bool { return strings.Contains(h.stderr.String(), "shutting down") })
	h.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, h, "a second SIGTERM did not cut the shutdown short")
	<-slow // cut: the client sees its connection close
	for _, want := range []string{"second signal: cutting the shutdown short", "usage events kept in the outbox for the next start"} {
		if !strings.Contains(h.stderr.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, h.stderr)
		}
	}
	db := checkCutCallCounted(t, dir)
	if st := db.Stats(); len(st.Sinks) != 1 || st.Sinks[0].Queued != callsDone+1 {
		t.Errorf("usage.db after the shutdown: %+v; want the %d calls' events queued for the tracker", st.Sinks, callsDone+1)
	}
}

// At server.shutdown_timeout, without a second signal, the calls still in
// flight are cut a little before the deadline, so that their usage is
// still handed off and saved: it used to be cut at the deadline itself,
// when the track stage closed at once, and their events were lost.
func TestShutdownDeadlineKeepsTheCutCallsUsage(t *testing.T) {
	usage := filepath.Join(t.TempDir(), "usage.jsonl")
	sink := "{type: jsonl, path: " + usage + "}"
	h, dir, slow := serveWithACallInFlight(t, config.EngineInline, "5s", sink, func() {})
	h.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, h, "the shutdown did not end at its deadline")
	<-slow
	if strings.Contains(h.stderr.String(), "after the outbox closed") {
		t.Errorf("a cut call's event came after the outbox closed:\n%s", h.stderr)
	}
	if !strings.Contains(h.stderr.String(), "calls still in flight were cut") {
		t.Errorf("the log does not say the call in flight was cut:\n%s", h.stderr)
	}
	if !strings.Contains(h.stderr.String(), `"deadline":"5s"`) {
		t.Errorf("the shutdown's first line does not give its deadline as a duration:\n%s", h.stderr)
	}
	checkCutCallCounted(t, dir).Close()

	// The next start delivers the cut call's event, which says why it ended.
	next := &host{usage: usage}
	next.start(t, nil, func(listen, admin string) string {
		return writeConfig(t, dir, fmt.Sprintf(`
listen: %s
admin_listen: %s
data_dir: %s
pipeline:
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - %s
`, listen, admin, dir, sink))
	})
	var cut []core.UsageEvent
	opsWait(t, 20*time.Second, "the cut call's event to be delivered", func() bool {
		cut = cut[:0]
		for _, ev := range next.events(t) {
			if ev.Status == core.StatusClientAborted {
				cut = append(cut, ev)
			}
		}
		return len(cut) > 0
	})
	next.stop(t)
	if want := "the call was cut: the shutdown's time for calls ran out"; !strings.Contains(cut[0].Error, want) {
		t.Errorf("the cut call's event says %q, want %q; log:\n%s", cut[0].Error, want, h.stderr)
	}
}

// callsDone is how many calls serveWithACallInFlight makes before the
// one it leaves in flight.
const callsDone = 3

// serveWithACallInFlight starts tollgate with shutdown_timeout and one
// track stage sink, makes callsDone calls, runs ready, and leaves one call
// in flight that the upstream holds for ten minutes; slow gets its status
// (0 when its connection was cut).
func serveWithACallInFlight(t *testing.T, engine, shutdownTimeout, sink string, ready func()) (h *host, dir string, slow chan int) {
	up := providertest.NewServer(t)
	dir = t.TempDir()
	h = &host{}
	h.start(t, []string{"E2E_OPENAI_KEY=" + plantedKey}, func(listen, admin string) string {
		return writeConfig(t, dir, fmt.Sprintf(`
listen: %s
admin_listen: %s
data_dir: %s
log: {level: info, format: json}
server: {shutdown_timeout: %s, engine: %s}
providers:
  openai: {base_url: %s/v1, api_key_env: E2E_OPENAI_KEY}
pipeline:
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - %s
`, listen, admin, dir, shutdownTimeout, engine, up.URL, sink))
	})
	for range callsDone {
		call(t, h, "acme")
	}
	ready()
	slow = make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions", strings.NewReader(chat))
		req.Header.Set(providertest.FaultHeader, "latency=10m")
		req.Header.Set("X-Tollgate-Customer", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	opsWait(t, 10*time.Second, "the upstream to get the slow call", func() bool { return len(up.Requests()) == callsDone+1 })
	return h, dir, slow
}

// waitExit waits for tollgate to exit with 0.
func waitExit(t *testing.T, h *host, hung string) {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		if err != nil {
			t.Errorf("tollgate exited with %v, want 0:\n%s", err, h.stderr)
		}
	case <-time.After(60 * time.Second): // a hang guard, not a timing
		t.Fatalf("%s:\n%s", hung, h.stderr)
	}
}

// checkCutCallCounted opens usage.db in dir, closed with the test, and
// checks that its ledger counts the callsDone calls and the cut one, as
// an error (client_aborted).
func checkCutCallCounted(t *testing.T, dir string) *tracking.DB {
	t.Helper()
	db, err := tracking.Open(dir, tracking.ReadOnly(), tracking.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	report, err := db.Usage(context.Background(), tracking.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := report.Total; got.Requests != callsDone+1 || got.Errors != 1 {
		t.Errorf("the ledger counts %d requests, %d errors; want %d and the cut call's 1", got.Requests, got.Errors, callsDone+1)
	}
	return db
}
