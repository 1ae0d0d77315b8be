package tollgate_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

const (
	chunkHi    = `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}` + "\n\n"
	chunkUsage = `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}` + "\n\n"
	streamBody = `,"stream":true,"stream_options":{"include_usage":true}`
)

// eventStream starts an answer of the upstream as a server-sent event stream.
func eventStream(w http.ResponseWriter, first string) {
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, first)
	w.(http.Flusher).Flush()
}

// TestHandlerStreamPassesKeepAlivesAtOnce checks that an upstream's
// keep-alive comment reaches the client while the upstream still waits to
// send the answer, that the client gets the upstream's bytes unchanged, and
// that the comment does not count in the usage.
func TestHandlerStreamPassesKeepAlivesAtOnce(t *testing.T) {
	const ping, rest = ": ping 1\n\n", ": ping 2\n\n" + chunkHi + chunkUsage + "data: [DONE]\n\n"
	release := make(chan struct{})
	var restSent atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		eventStream(w, ping)
		select {
		case <-release:
		case <-time.After(30 * time.Second): // only so that a held ping fails the test instead of hanging it
		}
		restSent.Store(true)
		io.WriteString(w, rest)
	}))
	defer up.Close()
	s := newStack(t, providersYAML(up.URL)+"pipeline:\n  - {name: call, kind: builtin}\n"+trackYAML)
	gw := httptest.NewServer(s.h)
	defer gw.Close()

	resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat("hi", streamBody)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len(ping))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != ping {
		t.Fatalf("first bytes %q, %v; want %q", first, err, ping)
	}
	if restSent.Load() {
		t.Error("the keep-alive reached the client only with the answer after it")
	}
	close(release)
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != rest {
		t.Fatalf("rest of the stream %q, %v; want the upstream's bytes %q", got, err, rest)
	}
	evs := s.events(t)
	if len(evs) != 1 {
		t.Fatalf("events: %+v", evs)
	}
	if ev := evs[0]; ev.Status != core.StatusOK || ev.InputTokens != 3 || ev.OutputTokens != 1 || ev.UsageEstimated {
		t.Errorf("event %+v, want ok with the upstream's usage (3 in, 1 out)", ev)
	}
}

// TestHandlerStreamEventOverLimit checks that an upstream sending a line
// without end is cut off at max_response_bytes: the client sees the stream
// break after the events before it, the call is an upstream error with the
// usage estimated from them, and the gateway stops reading the upstream.
func TestHandlerStreamEventOverLimit(t *testing.T) {
	const most = 64 << 20 // the upstream gives up here if the gateway reads on
	var written atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		eventStream(w, chunkHi+`data: {"x":"`)
		xs := strings.Repeat("x", 32<<10)
		for written.Load() < most {
			n, err := io.WriteString(w, xs)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer up.Close()
	s := newStack(t, providersYAML(up.URL)+
		"pipeline:\n  - {name: call, kind: builtin, config: {max_response_bytes: 65536}}\n"+trackYAML)
	gw := httptest.NewServer(s.h)
	defer gw.Close()

	resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat("hi", streamBody)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || string(got) != chunkHi {
		t.Errorf("client got %d bytes (%.200q), %v; want the first event, then the stream broken", len(got), got, err)
	}
	evs := s.events(t)
	if len(evs) != 1 {
		t.Fatalf("events: %+v", evs)
	}
	ev := evs[0]
	if ev.Status != core.StatusUpstreamError || !ev.UsageEstimated || ev.OutputTokens != 1 ||
		!strings.Contains(ev.Error, "an event of the upstream's stream is over 65536 bytes") {
		t.Errorf("event %+v, want an upstream error over 65536 bytes with 1 estimated output token", ev)
	}
	if written.Load() >= most {
		t.Errorf("the upstream wrote %d bytes: the gateway read on past the limit", written.Load())
	}
}
