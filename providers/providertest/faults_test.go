package providertest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    Fault
		wantErr bool
	}{
		{name: "empty", header: "", want: Fault{}},
		{name: "status", header: "status=429", want: Fault{Status: 429}},
		{name: "retry after seconds", header: "status=429; retry_after=2", want: Fault{Status: 429, RetryAfter: 2 * time.Second}},
		{name: "retry after duration", header: "status=503;retry_after=1500ms", want: Fault{Status: 503, RetryAfter: 1500 * time.Millisecond}},
		{name: "message", header: "status=500; message=down for maintenance", want: Fault{Status: 500, Message: "down for maintenance"}},
		{name: "latency", header: "latency=200ms", want: Fault{Latency: 200 * time.Millisecond}},
		{name: "flags", header: " malformed ; drop ", want: Fault{Malformed: true, Drop: true}},
		{name: "flag false", header: "drop=false", want: Fault{}},
		{name: "cut and delay", header: "cut_after=3; chunk_delay=5ms", want: Fault{CutAfter: 3, ChunkDelay: 5 * time.Millisecond}},
		{name: "key case", header: "Status=500", want: Fault{Status: 500}},
		{name: "unknown key", header: "explode", wantErr: true},
		{name: "bad status", header: "status=abc", wantErr: true},
		{name: "status out of range", header: "status=42", wantErr: true},
		{name: "bad latency", header: "latency=200", wantErr: true},
		{name: "negative latency", header: "latency=-1s", wantErr: true},
		{name: "cut zero", header: "cut_after=0", wantErr: true},
		{name: "bad flag", header: "drop=maybe", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFault(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFault(%q) error %v, want error %v", tt.header, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseFault(%q) = %+v, want %+v", tt.header, got, tt.want)
			}
			if err != nil {
				return
			}
			back, err := ParseFault(got.String())
			if err != nil || back != got {
				t.Errorf("round trip through %q = %+v, %v; want %+v", got.String(), back, err, got)
			}
		})
	}
}

// sdkResult is what the official SDK saw of one request.
type sdkResult struct {
	err    error // the request's error, or the stream's
	chunks int   // stream chunks received
}

func TestFaultsSDK(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		stream bool
		check  func(t *testing.T, got sdkResult)
	}{
		{name: "429 with retry after", fault: Fault{Status: 429, RetryAfter: 2 * time.Second},
			check: wantAPIError(429, "requests", "rate_limit_exceeded", "", func(t *testing.T, h http.Header) {
				if h.Get("Retry-After") != "2" || h.Get("Retry-After-Ms") != "" {
					t.Errorf("Retry-After %q, Retry-After-Ms %q; want 2 and none", h.Get("Retry-After"), h.Get("Retry-After-Ms"))
				}
			})},
		{name: "429 with retry after in ms", fault: Fault{Status: 429, RetryAfter: 1500 * time.Millisecond},
			check: wantAPIError(429, "requests", "rate_limit_exceeded", "", func(t *testing.T, h http.Header) {
				if h.Get("Retry-After") != "2" || h.Get("Retry-After-Ms") != "1500" {
					t.Errorf("Retry-After %q, Retry-After-Ms %q; want 2 and 1500", h.Get("Retry-After"), h.Get("Retry-After-Ms"))
				}
			})},
		{name: "500", fault: Fault{Status: 500}, check: wantAPIError(500, "server_error", "", "", nil)},
		{name: "503 with message", fault: Fault{Status: 503, Message: "down for maintenance"},
			check: wantAPIError(503, "server_error", "", "down for maintenance", nil)},
		{name: "500 on a stream", fault: Fault{Status: 500}, stream: true, check: wantAPIError(500, "server_error", "", "", nil)},
		{name: "latency", fault: Fault{Latency: 10 * time.Millisecond}, check: wantOK(0)},
		{name: "malformed", fault: Fault{Malformed: true}, check: wantTransportError(0)},
		{name: "malformed stream", fault: Fault{Malformed: true}, stream: true, check: wantTransportError(0)},
		{name: "cut", fault: Fault{CutAfter: 1}, check: wantTransportError(0)},
		{name: "cut stream", fault: Fault{CutAfter: 3}, stream: true, check: wantTransportError(3)},
		{name: "cut stream after every chunk", fault: Fault{CutAfter: 9}, stream: true, check: wantTransportError(9)},
		{name: "chunk delay", fault: Fault{ChunkDelay: time.Millisecond}, stream: true, check: wantOK(9)},
		{name: "drop", fault: Fault{Drop: true}, check: wantTransportError(0)},
		{name: "drop stream", fault: Fault{Drop: true}, stream: true, check: wantTransportError(0)},
	}
	for _, tt := range tests {
		for _, how := range []string{"inject", "header"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				srv := NewServer(t)
				var opts []option.RequestOption
				if how == "inject" {
					srv.Inject(tt.fault)
				} else {
					opts = append(opts, option.WithHeader(FaultHeader, tt.fault.String()))
				}
				client := newClient(t, srv.URL+"/v1", opts...)
				tt.check(t, callSDK(client, tt.stream))
				if n := len(srv.Requests()); n != 1 {
					t.Errorf("provider saw %d requests, want 1", n)
				}
			})
		}
	}
}

// callSDK makes one chat completion, streamed with usage or not.
func callSDK(client openai.Client, stream bool) sdkResult {
	params := chatParams()
	if !stream {
		_, err := client.Chat.Completions.New(context.Background(), params)
		return sdkResult{err: err}
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := client.Chat.Completions.NewStreaming(context.Background(), params)
	defer s.Close()
	var got sdkResult
	for s.Next() {
		got.chunks++
	}
	got.err = s.Err()
	return got
}

func wantOK(chunks int) func(*testing.T, sdkResult) {
	return func(t *testing.T, got sdkResult) {
		t.Helper()
		if got.err != nil || got.chunks != chunks {
			t.Errorf("got %d chunks and %v, want %d chunks and no error", got.chunks, got.err, chunks)
		}
	}
}

// wantTransportError wants an error that is not an API error, after chunks
// stream chunks.
func wantTransportError(chunks int) func(*testing.T, sdkResult) {
	return func(t *testing.T, got sdkResult) {
		t.Helper()
		var apiErr *openai.Error
		if got.err == nil || errors.As(got.err, &apiErr) {
			t.Errorf("error %v, want a transport or decoding error", got.err)
		}
		if got.chunks != chunks {
			t.Errorf("got %d chunks, want %d", got.chunks, chunks)
		}
	}
}

func wantAPIError(status int, typ, code, message string, header func(*testing.T, http.Header)) func(*testing.T, sdkResult) {
	return func(t *testing.T, got sdkResult) {
		t.Helper()
		var apiErr *openai.Error
		if !errors.As(got.err, &apiErr) {
			t.Fatalf("error %v, want an API error", got.err)
		}
		if apiErr.StatusCode != status || apiErr.Type != typ || apiErr.Code != code || apiErr.Message == "" || (message != "" && apiErr.Message != message) {
			t.Errorf("API error %d %s, want status %d type %q code %q message %q", apiErr.StatusCode, apiErr.RawJSON(), status, typ, code, message)
		}
		if header != nil {
			header(t, apiErr.Response.Header)
		}
	}
}

func TestInjectTimes(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		want   []int // status of each request in turn
		thenOK bool  // after Reset, a request succeeds
	}{
		{name: "once by default", fault: Fault{Status: 500}, want: []int{500, 200, 200}},
		{name: "twice", fault: Fault{Status: 503, Times: 2}, want: []int{503, 503, 200}},
		{name: "until reset", fault: Fault{Status: 429, Times: -1}, want: []int{429, 429, 429, 429}, thenOK: true},
		{name: "other path", fault: Fault{Status: 500, Path: "/v1/models"}, want: []int{200, 200}},
		{name: "this path without v1", fault: Fault{Status: 500, Path: "/chat/completions"}, want: []int{500, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t)
			srv.Inject(tt.fault)
			for i, want := range tt.want {
				if res, _ := post(t, srv, "POST", "/v1/chat/completions", chatBody); res.StatusCode != want {
					t.Errorf("request %d: status %d, want %d", i, res.StatusCode, want)
				}
			}
			if !tt.thenOK {
				return
			}
			srv.Reset()
			if res, _ := post(t, srv, "POST", "/v1/chat/completions", chatBody); res.StatusCode != 200 {
				t.Errorf("after Reset: status %d, want 200", res.StatusCode)
			}
		})
	}
}

func TestInjectOrderAndHeaderPrecedence(t *testing.T) {
	srv := NewServer(t)
	srv.Inject(Fault{Status: 500})
	srv.Inject(Fault{Status: 503})
	steps := []struct {
		fault string
		want  int
	}{
		{fault: "status=429", want: 429}, // the header wins and leaves the queue alone
		{want: 500},
		{want: 503},
		{want: 200},
	}
	for i, s := range steps {
		var headers []string
		if s.fault != "" {
			headers = []string{FaultHeader, s.fault}
		}
		if res, _ := post(t, srv, "POST", "/v1/chat/completions", chatBody, headers...); res.StatusCode != s.want {
			t.Errorf("request %d: status %d, want %d", i, res.StatusCode, s.want)
		}
	}
}

// TestRetryAfterSDK checks that the SDK's retry, guided by Retry-After-Ms,
// gets through a queued 429.
func TestRetryAfterSDK(t *testing.T) {
	srv := NewServer(t)
	srv.Inject(Fault{Status: 429, RetryAfter: 10 * time.Millisecond})
	client := newClient(t, srv.URL, option.WithMaxRetries(2))
	if _, err := client.Chat.Completions.New(context.Background(), chatParams()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("provider saw %d requests, want 2", n)
	}
}

func TestCancelDuringLatency(t *testing.T) {
	srv := NewServer(t)
	srv.Inject(Fault{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	client := newClient(t, srv.URL)
	_, err := client.Chat.Completions.New(ctx, chatParams())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want deadline exceeded", err)
	}
	waitCancelled(t, srv)
	if reqs := srv.Requests(); len(reqs) != 1 || !reqs[0].Cancelled {
		t.Errorf("requests %+v, want one cancelled", reqs)
	}
}

// TestCancelDuringStream checks that a client that leaves mid-stream is seen
// by the provider, as a gateway test needs to check that a client disconnect
// cancels the upstream request.
func TestCancelDuringStream(t *testing.T) {
	srv := NewServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newClient(t, srv.URL, option.WithHeader(FaultHeader, "chunk_delay=1h"))
	stream := client.Chat.Completions.NewStreaming(ctx, chatParams())
	defer stream.Close()
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	select {
	case <-srv.Cancelled():
		t.Fatal("cancelled before the client left")
	default:
	}
	cancel()
	waitCancelled(t, srv)
	if reqs := srv.Requests(); len(reqs) != 1 || !reqs[0].Cancelled {
		t.Errorf("requests %+v, want one cancelled", reqs)
	}

	srv.Reset()
	select {
	case <-srv.Cancelled():
		t.Error("Cancelled still closed after Reset")
	default:
	}
}

// TestCloseReleasesWaits checks that closing the server ends a request that
// waits on a long latency, rather than hanging the test.
func TestCloseReleasesWaits(t *testing.T) {
	srv := NewServer(t)
	srv.Inject(Fault{Latency: time.Hour})
	done := make(chan error, 1)
	go func() {
		res, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", nil)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	for len(srv.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("request succeeded, want a dropped connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the waiting request")
	}
}
