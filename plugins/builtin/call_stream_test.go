package builtin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

// TestCallStreamEventOverMaxResponseBytes checks that max_response_bytes
// caps one event of a streamed answer: an event over it ends the stream with
// sse.ErrEventTooLarge, after the events before it passed.
func TestCallStreamEventOverMaxResponseBytes(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: {\"n\":1}\n\ndata: {\"x\":\""+strings.Repeat("x", 8<<10)+"\"}\n\n")
			}))
			defer srv.Close()
			c, req := callTo(t, tr, srv.URL, func(c *builtin.CallConfig) { c.MaxResponseBytes = 4096 })
			resp, err := c.Handle(context.Background(), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			if ev, err := resp.Stream.Next(); err != nil || string(ev.Data) != `{"n":1}` {
				t.Fatalf("first event %+v, %v", ev, err)
			}
			if _, err := resp.Stream.Next(); !errors.Is(err, sse.ErrEventTooLarge) || !strings.Contains(err.Error(), "over 4096 bytes") {
				t.Fatalf("event over max_response_bytes: %v, want sse.ErrEventTooLarge over 4096 bytes", err)
			}
		})
	}
}

// TestCallMetersTheStreamItMakes checks that the call stage meters a
// stream as the upstream sends it: the answer's usage fills in as its
// events are read, before any stage outside it does anything with them
// (docs/usage-events.md, "Where a stream is metered").
func TestCallMetersTheStreamItMakes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"+
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12,\"total_tokens\":42}}\n\n"+
			"data: [DONE]\n\n")
	}))
	defer srv.Close()
	c, req := callTo(t, builtin.TransportInline, srv.URL, nil)
	req.Body = []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	req.Format.Parse(req)
	resp, err := c.Handle(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	for {
		if _, err := resp.Stream.Next(); err != nil {
			break
		}
	}
	if u := resp.Usage; u.InputTokens != 30 || u.OutputTokens != 12 || u.Estimated {
		t.Errorf("the answer's usage %+v, want the upstream's 30 and 12 read as the events passed", u)
	}
}
