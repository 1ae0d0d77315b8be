package h1server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

// TestClientScenarios drives both servers with net/http's client and
// compares what it saw.
func TestClientScenarios(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, base string) string
	}{
		{"keep-alive reuse", func(t *testing.T, base string) string {
			c := &http.Client{Transport: &http.Transport{}}
			var out strings.Builder
			for i := range 3 {
				reused := false
				ctx := httptrace.WithClientTrace(waitCtx(t), &httptrace.ClientTrace{
					GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused },
				})
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/echo", strings.NewReader("abc"))
				fmt.Fprintf(&out, "%d reused=%v %s\n", i, reused && i > 0 || !reused && i == 0, get(t, c, req))
			}
			return out.String()
		}},
		{"large bodies both ways", func(t *testing.T, base string) string {
			body := bytes.Repeat([]byte("xyz"), 1<<20)
			req, _ := http.NewRequestWithContext(waitCtx(t), "POST", base+"/echo", bytes.NewReader(body))
			r1 := get(t, http.DefaultClient, req)
			req, _ = http.NewRequestWithContext(waitCtx(t), "GET", base+"/big", nil)
			return r1 + get(t, http.DefaultClient, req)
		}},
		{"chunked request body", func(t *testing.T, base string) string {
			req, _ := http.NewRequestWithContext(waitCtx(t), "POST", base+"/echo", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
			req.ContentLength = -1
			return get(t, http.DefaultClient, req)
		}},
		{"expect 100-continue", func(t *testing.T, base string) string {
			got100 := false
			ctx := httptrace.WithClientTrace(waitCtx(t), &httptrace.ClientTrace{Got100Continue: func() { got100 = true }})
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/echo", strings.NewReader("hello"))
			req.Header.Set("Expect", "100-continue")
			c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
			return get(t, c, req) + fmt.Sprintf("got 100: %v\n", got100)
		}},
		{"stream flushes each event", func(t *testing.T, base string) string {
			req, _ := http.NewRequestWithContext(waitCtx(t), "GET", base+"/stream", nil)
			return get(t, http.DefaultClient, req)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			differential(t, testHandler(), settings{}, func(t *testing.T, addr string) string {
				return tt.run(t, "http://"+addr)
			})
		})
	}
}

func get(t *testing.T, c *http.Client, req *http.Request) string {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		return "error: " + errClass(err) + "\n"
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s %d bytes %q... err=%v type=%s\n", resp.Status, len(b), b[:min(len(b), 40)], err, resp.Header.Get("Content-Type"))
}

// TestStreamEventsArriveOneByOne reads each flushed event before the
// handler writes the next: a flush must reach the client.
func TestStreamEventsArriveOneByOne(t *testing.T) {
	step := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush: %v", err)
			}
			select {
			case <-step:
			case <-r.Context().Done():
				return
			}
		}
	})
	differential(t, h, settings{}, func(t *testing.T, addr string) string {
		req, _ := http.NewRequestWithContext(waitCtx(t), "GET", "http://"+addr+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out strings.Builder
		buf := make([]byte, 64)
		for range 3 {
			n, err := resp.Body.Read(buf)
			fmt.Fprintf(&out, "%q %v\n", buf[:n], err)
			step <- struct{}{} // the next event is written only now
		}
		return out.String()
	})
}
