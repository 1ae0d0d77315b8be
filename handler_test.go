package tollgate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// serveGateway serves the engine's handler on loopback.
func serveGateway(t *testing.T, g *gateway) string {
	t.Helper()
	srv := httptest.NewServer(g.eng.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// chatBody is a client body with odd spacing and an unknown field, which must
// reach upstream byte for byte.
const chatBody = `{"model": "gpt-4o-mini",  "messages":[{"role":"user","content":"Hi there gateway"}], "x_unknown_field": {"kept": [1, 2]}}`

func post(t *testing.T, url, body string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer client-key-ignored-by-host")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlerForwardsBytesExactly(t *testing.T) {
	g := newGateway(t, "")
	url := serveGateway(t, g)
	resp := post(t, url+"/v1/chat/completions", chatBody, "X-Tollgate-Customer", "acme", "X-Tollgate-Meta-Team", "search")
	got := readAll(t, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	up := g.upstream.Requests()[0]
	if string(up.Body) != chatBody {
		t.Errorf("upstream body changed:\n got %s\nwant %s", up.Body, chatBody)
	}
	if a := up.Header.Get("Authorization"); a != "Bearer "+testKey {
		t.Errorf("host mode must send the gateway's key upstream, got %q", a)
	}
	for _, h := range []string{"X-Tollgate-Customer", "X-Tollgate-Meta-Team"} {
		if up.Header.Get(h) != "" {
			t.Errorf("attribution header %s leaked upstream", h)
		}
	}
	// What the client got is what upstream sent: replay upstream directly.
	direct := post(t, g.upstream.URL+"/v1/chat/completions", chatBody)
	want := readAll(t, direct.Body)
	if !sameExceptIDs(got, want) {
		t.Errorf("client body differs from upstream's:\n got %s\nwant %s", got, want)
	}
	ev := g.onlyEvent(t)
	if ev.CustomerID != "acme" || ev.Metadata["team"] != "search" || resp.Header.Get("X-Tollgate-Id") != ev.ID {
		t.Errorf("event = %+v, X-Tollgate-Id %q", ev, resp.Header.Get("X-Tollgate-Id"))
	}
}

// sameExceptIDs compares two fake-provider answers, ignoring id and created,
// which differ per call.
func sameExceptIDs(a, b []byte) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	for _, m := range []map[string]any{x, y} {
		delete(m, "id")
		delete(m, "created")
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestHandlerStreamPassesEventsAndHidesInjectedUsage(t *testing.T) {
	g := newGateway(t, "")
	url := serveGateway(t, g)
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream me"}]}`
	resp := post(t, url+"/v1/chat/completions", body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	got := string(readAll(t, resp.Body))
	if strings.Contains(got, `"choices":[]`) {
		t.Errorf("the usage chunk the gateway asked for reached the client:\n%s", got)
	}
	if !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Errorf("stream does not end with [DONE]:\n%s", got)
	}
	up := g.upstream.Requests()[0]
	want, _ := g.upstream.ExpectedUsage(up.Body)
	ev := g.onlyEvent(t)
	wantUsage(t, ev, want)
	if ev.Status != core.StatusOK || !ev.Stream {
		t.Errorf("event = %+v", ev)
	}
}

func TestHandlerBadInput(t *testing.T) {
	tests := []struct {
		name       string
		path, body string
		fault      string
		wantStatus int
		wantInBody string
		wantEvent  string // usage event status; "" for none
	}{
		{"malformed JSON", "/v1/chat/completions", `{"model": "gpt-4o",`, "", 400, "not valid JSON: unexpected end of JSON input, at byte 19", core.StatusInvalid},
		{"wrong type", "/v1/chat/completions", `{"model": 4, "messages": []}`, "", 400, "model", core.StatusInvalid},
		{"missing messages", "/v1/chat/completions", `{"model": "gpt-4o"}`, "", 400, "messages", core.StatusInvalid},
		{"body over limit", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, "", 413, "over the limit", core.StatusInvalid},
		{"unknown path", "/nothing-here", `{}`, "", 404, "does not serve", ""},
		{"other /v1 path passed through", "/v1/nothing-here", `{}`, "", 404, "Invalid URL", core.StatusUpstreamError},
		{"upstream 429 passed through", "/v1/chat/completions", chatBody, "status=429; retry_after=2", 429, "rate_limit", core.StatusUpstreamError},
		{"upstream 500 passed through", "/v1/chat/completions", chatBody, "status=500", 500, "error", core.StatusUpstreamError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, "")
			url := serveGateway(t, g)
			var hdr []string
			if tt.fault != "" {
				hdr = []string{providertest.FaultHeader, tt.fault}
			}
			resp := post(t, url+tt.path, tt.body, hdr...)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantInBody) {
				t.Errorf("got %d %s, want %d containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantInBody)
			}
			var shape struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &shape) != nil || shape.Error.Message == "" || shape.Error.Type == "" {
				t.Errorf("error is not in OpenAI's shape: %s", body)
			}
			if tt.fault != "" && strings.Contains(tt.fault, "retry_after") && resp.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After not passed through: %q", resp.Header.Get("Retry-After"))
			}
			evs := g.events(t)
			if tt.wantEvent == "" {
				if len(evs) != 0 {
					t.Errorf("want no usage event, got %+v", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Status != tt.wantEvent || evs[0].HTTPStatus != tt.wantStatus {
				t.Errorf("usage events = %+v, want one with status %s", evs, tt.wantEvent)
			}
		})
	}
}

func TestHandlerUpstreamUnreachable(t *testing.T) {
	g := newGateway(t, "")
	url := serveGateway(t, g)
	g.upstream.Close() // nothing listens there now
	resp := post(t, url+"/v1/chat/completions", chatBody)
	body := readAll(t, resp.Body)
	if resp.StatusCode != 502 || !strings.Contains(string(body), "could not reach upstream") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), testKey) {
		t.Error("the error body shows the provider key")
	}
	if ev := g.onlyEvent(t); ev.Status != core.StatusUpstreamError || ev.HTTPStatus != 502 {
		t.Errorf("event = %+v", ev)
	}
}

func TestHandlerClientDisconnectMidStream(t *testing.T) {
	g := newGateway(t, "", providertest.WithChunkDelay(20*time.Millisecond),
		providertest.WithReply("one two three four five six seven eight nine ten eleven twelve thirteen fourteen"))
	url := serveGateway(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"long answer please"}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	events := 0
	for events < 3 { // read three events, then hang up
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\n" {
			events++
		}
	}
	cancel()
	resp.Body.Close()
	select {
	case <-g.upstream.Cancelled():
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client went away")
	}
	ev := g.onlyEvent(t)
	if ev.Status != core.StatusClientAborted || ev.HTTPStatus != 499 {
		t.Errorf("event = %+v", ev)
	}
	if ev.OutputTokens < 2 || !ev.UsageEstimated {
		t.Errorf("want the tokens seen so far (estimated), got %+v", ev)
	}
}
