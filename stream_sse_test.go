package tollgate_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

const (
	chunkHi    = `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}` + "\n\n"
	streamBody = `,"stream":true,"stream_options":{"include_usage":true}`
)

// eventStream starts an answer of the upstream as a server-sent event stream.
func eventStream(w http.ResponseWriter, first string) {
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, first)
	w.(http.Flusher).Flush()
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
