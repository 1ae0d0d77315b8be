package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/tlsroots"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// HTTPConfig configures an [HTTP] sink.
type HTTPConfig struct {
	// URL is the tracker endpoint events are POSTed to.
	URL string `json:"url"`
	// TokenEnv names the environment variable holding the bearer token;
	// empty sends no Authorization header.
	TokenEnv string `json:"token_env"`
	// Timeout bounds one POST, response included (default 10s).
	Timeout pipeline.Duration `json:"timeout"`
	// Headers are extra request headers, e.g. a tenant id.
	Headers map[string]string `json:"headers"`
	// CAFile is a PEM file of certificates trusted for an https url
	// besides the system's roots: a private CA, a TLS-inspecting proxy.
	CAFile string `json:"ca_file"`
}

// HTTP posts batches of usage events to a tracker endpoint as
//
//	POST <url>
//	Content-Type: application/json
//	Authorization: Bearer <token>
//
//	{"events": [<usage event>, …]}
//
// A 2xx answer means the tracker has every event of the batch. 408, 429,
// 5xx and network errors are retried by the outbox (a Retry-After header is
// honoured); any other status means the tracker refused the batch, which
// goes to dead letters with the status and the start of the answer as the
// reason — after the outbox has sent it again in halves to set aside only
// the events refused, when the status can be about some events (400, 409,
// 413, 422). The tracker must accept an event it already has (same id) with a
// 2xx: delivery is at least once.
type HTTP struct {
	url     string
	token   string
	headers http.Header
	client  *http.Client
	buf     bytes.Buffer
}

// NewHTTP returns an HTTP sink; token may be empty.
func NewHTTP(cfg HTTPConfig, token string) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if cfg.URL == "" {
		return nil, fmt.Errorf("url: required for an http sink, e.g. https://tracker.example/events")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: want an absolute http(s) URL, got %q", cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("url: must not hold credentials; put the token in the variable token_env names")
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return nil, fmt.Errorf("token_env: the token in %s contains whitespace or a newline; check how it was set", cfg.TokenEnv)
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	tlsConfig, err := tlsroots.Config(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &HTTP{url: cfg.URL, token: token, headers: h, client: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

// batchBody is the JSON the tracker receives.
type batchBody struct {
	Events []*core.UsageEvent `json:"events"`
}

// Write posts the events as one batch.
func (s *HTTP) Write(ctx context.Context, events []*core.UsageEvent) error {
	s.buf.Reset()
	if err := json.NewEncoder(&s.buf).Encode(batchBody{Events: events}); err != nil {
		return fmt.Errorf("encoding usage events: %w", err)
	}
	return s.post(ctx, len(events))
}

// WriteJSON posts events already in JSON as one batch, copying their bytes.
func (s *HTTP) WriteJSON(ctx context.Context, events [][]byte) error {
	s.buf.Reset()
	s.buf.WriteString(`{"events":[`)
	for i, ev := range events {
		if i > 0 {
			s.buf.WriteByte(',')
		}
		s.buf.Write(ev)
	}
	s.buf.WriteString("]}\n")
	return s.post(ctx, len(events))
}

// PostBody posts body as it is, classifying the answer as Write does:
// the durable Deliverer sends plugins' payloads, each already a complete
// body in its receiver's format, this way.
func (s *HTTP) PostBody(ctx context.Context, body []byte) error {
	s.buf.Reset()
	s.buf.Write(body)
	if err := s.post(ctx, 1); err != nil {
		return fmt.Errorf("%s: %w", s.url, err)
	}
	return nil
}

// post sends the body in buf and classifies the answer.
func (s *HTTP) post(ctx context.Context, n int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		return err
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tollgate")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("posting %d events: %w", n, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return &retryError{status: code, body: oneLine(snippet), after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return &refusal{status: code, body: oneLine(snippet)}
}

// refusal is an answer that refuses the batch for good (a 4xx other than
// 408 and 429); it is a [core.ErrSinkRejected].
type refusal struct {
	status int
	body   string
}

func (e *refusal) Error() string {
	return fmt.Sprintf("%v: the tracker answered %d: %s", core.ErrSinkRejected, e.status, e.body)
}

func (e *refusal) Is(target error) bool { return target == core.ErrSinkRejected }

// BatchRefused reports whether the tracker refused the request as a whole
// (a bad token, a wrong URL) rather than some events in it (400, 409, 413,
// 422): the outbox then does not send the batch again in parts.
func (e *refusal) BatchRefused() bool {
	switch e.status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return false
	}
	return true
}

// Close releases idle connections.
func (s *HTTP) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// retryError is a retryable answer; RetryAfter tells the outbox how long
// the tracker asked it to wait.
type retryError struct {
	status int
	body   string
	after  time.Duration
}

func (e *retryError) Error() string {
	return fmt.Sprintf("the tracker answered %d: %s", e.status, e.body)
}

// RetryAfter is the tracker's Retry-After, or 0.
func (e *retryError) RetryAfter() time.Duration { return e.after }

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}

var _ core.Sink = (*HTTP)(nil)
