package providertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody is the largest request body the provider reads.
const maxBody = 32 << 20

// Provider is the fake LLM provider, an [http.Handler]. Build it with
// [NewHandler], or serve it on loopback with [NewServer].
//
// A Provider is safe for concurrent use.
type Provider struct {
	cfg    config
	seq    atomic.Uint64
	closed chan struct{}
	once   sync.Once

	mu              sync.Mutex
	requests        []*RecordedRequest
	faults          []*Fault
	gen             uint64 // bumped by Reset, so late requests touch nothing new
	cancelled       chan struct{}
	cancelledClosed bool
}

// NewHandler returns a fake provider configured by opts. Mount it on any
// server; `tollgate mock` serves it on its --listen address.
func NewHandler(opts ...Option) *Provider {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	return &Provider{
		cfg:       cfg,
		closed:    make(chan struct{}),
		cancelled: make(chan struct{}),
	}
}

// Inject queues f for the next request that matches f.Path, or the next
// f.Times of them. Faults apply in the order injected, one per request. A
// request with a [FaultHeader] header uses that fault and leaves the queue
// untouched.
func (p *Provider) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Requests returns a copy of every request received since the provider was
// built or last reset, in the order they arrived. A request is recorded as
// soon as its body is read, before any fault or answer.
func (p *Provider) Requests() []RecordedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := p.requests
	if limit := p.cfg.recordLimit; limit > 0 && len(reqs) > limit {
		reqs = reqs[len(reqs)-limit:]
	}
	out := make([]RecordedRequest, len(reqs))
	for i, r := range reqs {
		out[i] = r.clone()
	}
	return out
}

// Cancelled returns a channel that is closed once the provider notices that a
// request received since the last [Provider.Reset] was cancelled while it
// waited or streamed; [Provider.Requests] then shows which one.
func (p *Provider) Cancelled() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cancelled
}

// Reset forgets the recorded requests and the queued faults, and gives
// [Provider.Cancelled] a fresh channel. Requests still in flight are not
// recorded again.
func (p *Provider) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
	p.faults = nil
	p.gen++
	if p.cancelledClosed {
		p.cancelled = make(chan struct{})
		p.cancelledClosed = false
	}
}

// ServeHTTP records the request, plays its fault if it has one, and answers
// in the wire format of its path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var readErr error
	if r.Body != nil {
		body, readErr = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	}
	c := p.record(r, body)
	wf := p.wireFor(r)
	if readErr != nil {
		wf.writeStatus(w, http.StatusBadRequest, fmt.Sprintf("could not read the request body: %v", readErr))
		return
	}
	f, err := p.faultFor(r)
	if err != nil {
		wf.writeStatus(w, http.StatusBadRequest, err.Error())
		return
	}
	c.fault = f
	if f.Latency > 0 && !c.wait(r.Context(), f.Latency) {
		return
	}
	if f.Drop {
		drop(w)
		return
	}
	if f.Status != 0 {
		f.retryAfterHeaders(w.Header())
		wf.writeStatus(w, f.Status, f.Message)
		return
	}
	wf.serve(w, r, c)
}

// wire is one provider wire format: its routes, answers and error shape.
type wire interface {
	// serve answers a request that no fault has answered.
	serve(w http.ResponseWriter, r *http.Request, c *call)
	// writeStatus answers with status and an error body in the format's
	// shape; an empty message means the format's usual one for status.
	writeStatus(w http.ResponseWriter, status int, message string)
}

// wireFor picks the wire format that serves a request: Anthropic's for
// /v1/messages, /v1/complete and any request with an anthropic-version
// header, Gemini's for /v1beta/, /v1alpha/ and model methods such as
// models/gemini-2.5-flash:generateContent, and OpenAI's for the rest,
// unknown paths included.
func (p *Provider) wireFor(r *http.Request) wire {
	path := r.URL.Path
	switch {
	case isAnthropicPath(path) || r.Header.Get("Anthropic-Version") != "":
		return anthropicWire{p}
	case isGeminiPath(path):
		return geminiWire{p}
	}
	return openAI{p}
}

// call is one request on its way through the provider.
type call struct {
	p     *Provider
	rec   *RecordedRequest
	gen   uint64
	body  []byte
	fault Fault
}

func (p *Provider) record(r *http.Request, body []byte) *call {
	rec := &RecordedRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit := p.cfg.recordLimit; limit != 0 {
		p.requests = append(p.requests, rec)
		if limit > 0 && len(p.requests) >= 2*limit {
			// Drop the oldest in one move now and then, not one per request.
			n := copy(p.requests, p.requests[len(p.requests)-limit:])
			clear(p.requests[n:])
			p.requests = p.requests[:n]
		}
	}
	return &call{p: p, rec: rec, gen: p.gen, body: body}
}

// faultFor returns the request's header fault, or else takes the first
// queued fault that matches it.
func (p *Provider) faultFor(r *http.Request) (Fault, error) {
	if vs := r.Header.Values(FaultHeader); len(vs) > 0 {
		return ParseFault(strings.Join(vs, ";"))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if !f.matches(r.URL.Path) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
		}
		return *f, nil
	}
	return Fault{}, nil
}

// wait waits d and reports true, or reports false when ctx is done first,
// after recording the request as cancelled. When the provider's server
// closes first, it aborts the handler.
func (c *call) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		c.cancelled()
		return false
	case <-c.p.closed:
		panic(http.ErrAbortHandler)
	}
}

// cancelled records that the request's context was cancelled.
func (c *call) cancelled() {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.rec.Cancelled = true
	if c.gen == c.p.gen && !c.p.cancelledClosed {
		close(c.p.cancelled)
		c.p.cancelledClosed = true
	}
}

// authorized reports whether r carries the key [WithRequiredKey] set, if any,
// where OpenAI's clients put it: "Authorization: Bearer", or Azure's api-key.
func (p *Provider) authorized(r *http.Request) bool {
	return p.cfg.apiKey == "" || r.Header.Get("Authorization") == "Bearer "+p.cfg.apiKey ||
		r.Header.Get("Api-Key") == p.cfg.apiKey
}

// nextID returns a number unique to this provider, for response ids.
func (p *Provider) nextID() uint64 {
	return p.seq.Add(1)
}

// close releases every handler that waits, so that a server can shut down.
func (p *Provider) close() {
	p.once.Do(func() { close(p.closed) })
}

// stripV1 removes an optional leading /v1 and a trailing slash from path.
func stripV1(path string) string {
	if rest, ok := strings.CutPrefix(path, "/v1"); ok && (rest == "" || rest[0] == '/') {
		path = rest
	}
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return "/"
	}
	return path
}

var _ http.Handler = (*Provider)(nil)
