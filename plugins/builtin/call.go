package builtin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/h1transport"
	"github.com/tollgate-dev/tollgate/internal/tlsroots"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

// CallConfig configures the call stage.
type CallConfig struct {
	// ConnectTimeout bounds dialing the upstream, TLS included (default 10s).
	ConnectTimeout pipeline.Duration `json:"connect_timeout"`
	// ResponseTimeout bounds the wait for the upstream's response headers
	// (default 10m: reasoning models can think for minutes).
	ResponseTimeout pipeline.Duration `json:"response_timeout"`
	// IdleConnTimeout closes pooled connections idle this long (default 90s).
	IdleConnTimeout pipeline.Duration `json:"idle_conn_timeout"`
	// MaxIdleConnsPerHost sizes the keep-alive pool per upstream (default 256).
	MaxIdleConnsPerHost int `json:"max_idle_conns_per_host"`
	// MaxResponseBytes caps a non-streamed answer, and one event of a
	// streamed one (default 64 MiB).
	MaxResponseBytes int64 `json:"max_response_bytes"`
	// Transport picks the client: "inline" (default) does each call's
	// HTTP/1.1 I/O on the calling goroutine, speaks HTTP/1.1 to TLS
	// upstreams too, and hands CONNECT and SOCKS proxies and Expect:
	// 100-continue to net/http; "standard" is net/http's Transport for
	// everything (HTTP/2 to upstreams that offer it by ALPN).
	Transport string `json:"transport"`
	// CAFile is a PEM file of certificates trusted for https upstreams
	// besides the system's roots: a private CA, a TLS-inspecting proxy.
	CAFile string `json:"ca_file"`
}

// Call stage transports (CallConfig.Transport).
const (
	TransportInline   = "inline"
	TransportStandard = "standard"
)

// Call sends the request to its upstream over one tuned, shared transport
// and returns the answer; a streamed answer is returned as a stream that
// passes events on as they arrive. It is the innermost stage and never calls
// next. Safe for concurrent use.
type Call struct {
	transport http.RoundTripper
	idle      interface{ CloseIdleConnections() }
	maxBody   int64
	maxNamed  string // maxBody in readAll's errors
}

// DefaultCallConfig returns the call stage's defaults.
func DefaultCallConfig() CallConfig {
	return CallConfig{
		ConnectTimeout:      pipeline.Duration(10 * time.Second),
		ResponseTimeout:     pipeline.Duration(10 * time.Minute),
		IdleConnTimeout:     pipeline.Duration(90 * time.Second),
		MaxIdleConnsPerHost: 256,
		MaxResponseBytes:    64 << 20,
		Transport:           TransportInline,
	}
}

func newCall(s pipeline.Spec, _ pipeline.Env) (any, error) {
	cfg := DefaultCallConfig()
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.MaxIdleConnsPerHost <= 0 || cfg.MaxResponseBytes <= 0 {
		return nil, fmt.Errorf("%s: config: max_idle_conns_per_host and max_response_bytes must be positive", s.Path())
	}
	if cfg.Transport != TransportInline && cfg.Transport != TransportStandard {
		return nil, fmt.Errorf("%s: config: transport %q: want %q or %q", s.Path(), cfg.Transport, TransportInline, TransportStandard)
	}
	tlsConfig, err := tlsroots.Config(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: config: ca_file: %w", s.Path(), err)
	}
	return NewCall(cfg, NewCallTransport(cfg, tlsConfig)), nil
}

// NewCall returns a call stage. With a nil rt it uses its own transport
// tuned by cfg (NewCallTransport); tests and benchmarks pass an in-memory
// one.
func NewCall(cfg CallConfig, rt http.RoundTripper) *Call {
	if rt == nil {
		rt = NewCallTransport(cfg, nil)
	}
	c := &Call{transport: rt, maxBody: cfg.MaxResponseBytes, maxNamed: fmt.Sprintf("max_response_bytes %d", cfg.MaxResponseBytes)}
	c.idle, _ = rt.(interface{ CloseIdleConnections() })
	return c
}

// NewCallTransport returns the transport cfg describes: cfg.Transport's
// kind with its timeouts and pool size. tlsConfig, if not nil, configures
// TLS to the upstreams (private roots, client certificates); nil trusts
// the system's roots.
func NewCallTransport(cfg CallConfig, tlsConfig *tls.Config) http.RoundTripper {
	dialer := &net.Dialer{Timeout: time.Duration(cfg.ConnectTimeout), KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   time.Duration(cfg.ConnectTimeout),
		ResponseHeaderTimeout: time.Duration(cfg.ResponseTimeout),
		IdleConnTimeout:       time.Duration(cfg.IdleConnTimeout),
		MaxIdleConns:          cfg.MaxIdleConnsPerHost * 4,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
	if cfg.Transport == TransportStandard {
		return t
	}
	// net/http's transport stays as the fallback for what the inline one
	// does not carry. Why inline is the default: docs/benchmarks.md, "The
	// proxy hop at c=1".
	return &h1transport.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   time.Duration(cfg.ConnectTimeout),
		ResponseHeaderTimeout: time.Duration(cfg.ResponseTimeout),
		IdleConnTimeout:       time.Duration(cfg.IdleConnTimeout),
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		ReadBufferSize:        16 << 10,
		WriteBufferSize:       16 << 10,
		Proxy:                 http.ProxyFromEnvironment,
		Fallback:              t,
	}
}

// Handle performs the upstream call.
func (c *Call) Handle(ctx context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
	up := req.Upstream
	ob := new(outbound)
	up.SetURL(&ob.url, req)
	ob.body.Reset(req.Body)
	hr := (&http.Request{
		Method:        req.Method,
		URL:           &ob.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(req.Header)+4),
		Body:          io.NopCloser(&ob.body),
		ContentLength: int64(len(req.Body)),
		GetBody: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(req.Body)), nil
		},
	}).WithContext(ctx)
	hr.Host = hr.URL.Host
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if len(req.Body) == 0 {
		hr.Body, hr.GetBody = http.NoBody, nil
	} else if ct := hr.Header.Get("Content-Type"); ct == "" || hasMediaType(ct, "application/x-www-form-urlencoded") {
		// curl -d sends a form type with a JSON body; providers want JSON.
		hr.Header["Content-Type"] = jsonContentType
	}
	if _, ok := hr.Header["Accept-Encoding"]; !ok {
		hr.Header["Accept-Encoding"] = identity // see encoding.go
	}
	core.InjectHeaders(ctx, hr.Header) // trace context, when tracing is on
	if err := up.Authorize(req.Format, hr.Header); err != nil {
		return nil, err
	}
	resp, err := c.transport.RoundTrip(hr)
	if err != nil {
		return nil, c.transportError(ctx, up, err)
	}
	if err := decodeAnswer(resp); err != nil {
		resp.Body.Close()
		return undecodable(up, resp, err)
	}
	if resp.StatusCode >= 400 {
		body, err := readAll(resp, maxErrorBody, "the 1 MiB kept of an error body")
		resp.Body.Close()
		e := &core.Error{Kind: core.KindUpstream, Status: resp.StatusCode, Code: "upstream_error",
			Message: fmt.Sprintf("upstream %q answered %d", up.Name, resp.StatusCode), Header: resp.Header, Body: body}
		if err != nil {
			// Half an error body would not parse in the client's SDK: the
			// gateway's own error says what happened instead.
			e.Header, e.Body = nil, nil
			e.Message = fmt.Sprintf("upstream %q answered %d, and its error body could not be passed on: %v", up.Name, resp.StatusCode, err)
		}
		return nil, e
	}
	if isEventStream(resp.Header) {
		// Metered here, as the upstream sends it: what the stages after
		// make of the events changes what the client gets, not the usage.
		return core.MeterStream(req, &core.Response{Status: resp.StatusCode, Header: resp.Header,
			Stream: sse.NewStream(resp.Body, sse.MaxEventBytes(c.maxBody))}), nil
	}
	body, err := readAll(resp, c.maxBody, c.maxNamed)
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.transportError(ctx, up, err)
		}
		// Reached, and it may have billed the call: recorded as estimated,
		// never as a free call.
		return estimatedAnswer(resp, "its answer could not be read: "+err.Error()), &core.Error{Kind: core.KindUpstream, Status: http.StatusBadGateway, Code: "upstream_read_failed",
			Message: fmt.Sprintf("reading the answer of upstream %q: %v", up.Name, err), Err: err}
	}
	out := &core.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	known := out.ReadUsage(req) // the one read of its usage: the stages after see what it found
	if !known && out.Usage.Estimated {
		// No usage to read (an error in place of the answer, a report
		// that cannot be true): the upstream had the prompt, and may
		// bill it.
		out.Usage = core.EstimatePrompt(req, out.Usage)
	}
	if f, ok := req.Format.(core.AnswerFailer); ok && !known {
		if msg := f.AnswerFailure(req, body); msg != "" {
			// The answer with the error: the outcome keeps its usage, the
			// client gets the body and status as they came.
			return out, &core.Error{Kind: core.KindUpstream, Status: resp.StatusCode, Code: "upstream_error",
				Header: resp.Header, Body: body,
				Message: fmt.Sprintf("upstream %q answered %d with an error in place of the answer: %s", up.Name, resp.StatusCode, msg)}
		}
	}
	return out, nil
}

// undecodable is the outcome of an answer in a content coding the gateway
// does not decode: a 502 naming the coding, and, for an answer that is not
// an error, the call recorded as estimated (the upstream may bill it).
func undecodable(up *core.Upstream, resp *http.Response, err error) (*core.Response, error) {
	e := &core.Error{Kind: core.KindUpstream, Status: http.StatusBadGateway, Code: "upstream_bad_answer",
		Message: fmt.Sprintf("upstream %q answered %d with %v", up.Name, resp.StatusCode, err)}
	if resp.StatusCode >= 400 {
		return nil, e
	}
	return estimatedAnswer(resp, "its answer came with "+err.Error()), e
}

// estimatedAnswer is the outcome beside the error of an answer that
// reached the gateway and could not be read: the call is recorded as
// estimated, for why, since the upstream may bill it.
func estimatedAnswer(resp *http.Response, why string) *core.Response {
	return &core.Response{Status: resp.StatusCode, Header: resp.Header, UsageKnown: true,
		Usage: core.EstimatedUsage(core.Usage{}, why)}
}

// jsonContentType is shared by every call that needs it: a header value
// the transport only reads, capped so that an append copies it.
var jsonContentType = []string{"application/json"}[:1:1]

// outbound is what an upstream request holds besides the http.Request
// itself (which WithContext allocates): its URL and its body's reader, in
// one allocation instead of two.
//
// The body must reach the transport as io.NopCloser of a *bytes.Reader:
// net/http (and h1transport, which writes requests with it) sends the head
// of a request whose body it does not know to be in memory in a write of
// its own, before the body (golang/go#22088). That is a second write, a
// second segment, and a second wake-up of the upstream on every call
// (TestUpstreamRequestIsOneWrite; docs/benchmarks.md, "One write").
type outbound struct {
	url  url.URL
	body bytes.Reader
}

// maxErrorBody bounds an upstream's error body, which the gateway holds
// whole to pass on: providers' errors are a few hundred bytes.
const maxErrorBody = 1 << 20

// readAll reads a whole body, sized by Content-Length when known, up to
// limit bytes, which named says in an error.
func readAll(resp *http.Response, limit int64, named string) ([]byte, error) {
	if resp.Body == http.NoBody {
		// An answer that has none by its status or the request's method
		// (HEAD), whatever its Content-Length says.
		return nil, nil
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("the answer is %d bytes, over %s", resp.ContentLength, named)
	}
	if resp.ContentLength >= 0 {
		b := make([]byte, resp.ContentLength)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the answer is over %s", named)
	}
	return b, err
}

// isEventStream reports whether h's media type is text/event-stream,
// which like every media type is case-insensitive.
func isEventStream(h http.Header) bool {
	return hasMediaType(h.Get("Content-Type"), "text/event-stream")
}

// hasMediaType reports whether the Content-Type value ct is of the media
// type mt (lower case), parameters aside; mime.ParseMediaType would
// allocate on every call.
func hasMediaType(ct, mt string) bool {
	ct = strings.TrimLeft(ct, " \t")
	if len(ct) < len(mt) || !strings.EqualFold(ct[:len(mt)], mt) {
		return false
	}
	rest := strings.TrimLeft(ct[len(mt):], " \t")
	return rest == "" || rest[0] == ';'
}

// transportError classifies a failed round trip.
func (c *Call) transportError(ctx context.Context, up *core.Upstream, err error) error {
	if ctx.Err() != nil {
		return core.ClientGone(ctx, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &core.Error{Kind: core.KindTimeout, Code: "upstream_timeout",
			Message: fmt.Sprintf("upstream %q did not answer in time: %v", up.Name, err), Err: err}
	}
	if h1transport.GotAnswer(err) && !errors.As(err, &ne) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		// Reached, and it may have billed the call: not "could not reach".
		return &core.Error{Kind: core.KindUpstream, Status: http.StatusBadGateway, Code: "upstream_bad_answer",
			Message: fmt.Sprintf("upstream %q answered with something that is not a valid HTTP response: %v", up.Name, err), Err: err}
	}
	return &core.Error{Kind: core.KindUnreachable, Code: "upstream_unreachable",
		Message: fmt.Sprintf("could not reach upstream %q at %s: %v", up.Name, up.BaseURL.Host, err), Err: err}
}

// Close releases pooled connections.
func (c *Call) Close(context.Context) error {
	if c.idle != nil {
		c.idle.CloseIdleConnections()
	}
	return nil
}

var (
	_ core.Stage      = (*Call)(nil)
	_ pipeline.Closer = (*Call)(nil)
)
