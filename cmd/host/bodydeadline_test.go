package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

func TestSlowBodyIsCutOff(t *testing.T) {
	// Each event of a stream takes 100 ms: a stream outlives the body
	// deadline several times over.
	up := providertest.NewServer(t, providertest.WithChunkDelay(100*time.Millisecond))
	h := startOps(t, up.URL, opsConfig+"server: {read_body_timeout: 300ms}\n", "E2E_OPENAI_KEY="+plantedKey)
	addr := strings.TrimPrefix(h.url, "http://")

	tests := []struct {
		name    string
		trickle bool // a byte every 50 ms, rather than nothing after the first bytes
	}{{"stalled", false}, {"trickled", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			head := "POST /v1/chat/completions HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\n" +
				"X-Tollgate-Customer: slowpoke\r\nContent-Length: 4096\r\n\r\n" + `{"model":"gpt-4o-mini",`
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			if tt.trickle {
				go func() {
					for range 200 { // at most 10 s; ends when the gateway closes the connection
						time.Sleep(50 * time.Millisecond)
						if _, err := conn.Write([]byte(" ")); err != nil {
							return
						}
					}
				}()
			}
			// The gateway answers (408, naming the timeout) and closes, or
			// just closes; either way well before this generous bound.
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the gateway kept the connection of a client that sends no body")
				}
				return // closed
			}
			body, _ := io.ReadAll(resp.Body) // ends when the gateway closes the connection
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "server.read_body_timeout") {
				t.Errorf("answer to a slow body: %d %s", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("the answer does not say Connection: close")
			}
			// EOF, or a reset when the trickle's bytes reach a closed socket.
			var ne net.Error
			if _, err := conn.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("the connection stays open after the body timed out: %v", err)
			}
		})
	}
	opsWait(t, 10*time.Second, "the cut to be logged", func() bool {
		return strings.Count(h.stderr.String(), "did not send its request body within server.read_body_timeout") >= 2
	})

	// A body that arrives in time lifts the deadline: a stream that runs
	// well past it is not cut, and the connection serves the next call.
	stream := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight"}]}`
	start := time.Now()
	code, body := opsCall(t, h.url+"/v1/chat/completions", stream)
	if code != 200 || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("a stream of %s: %d %s", time.Since(start), code, body)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("the stream took %s, not longer than the body deadline: the test proves nothing", took)
	}
	if code, body := opsCall(t, h.url+"/v1/chat/completions", chat); code != 200 {
		t.Errorf("the next call: %d %s", code, body)
	}
}
