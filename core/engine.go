package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Engine runs calls through the pipeline. It has three ways in — [Engine.Do],
// [Engine.Handler] and [Engine.Transport] — that share one pipeline and one
// tracking path. An Engine is safe for concurrent use.
type Engine struct {
	formats   []Format
	upstreams []*Upstream          // in the order added
	byName    map[string]*Upstream // by name
	defaults  map[string]*Upstream // by format name: the format's default upstream
	pipeline  atomic.Pointer[Pipeline]

	upstreamHeader  string
	customerHeader  string
	metaPrefix      string
	requireCustomer bool
	maxBodyBytes    int64
	passthrough     http.RoundTripper
	log             *slog.Logger
	observers       []Observer
	auth            Authenticator
	usageWarnings   usageWarnings
}

// Pipeline is a compiled chain of stages and the completers that observe its
// outcomes. Build one with [NewPipeline]; the engine swaps pipelines
// atomically, and calls in flight finish on the one they started on.
type Pipeline struct {
	handler    HandlerFunc
	completers []Completer
	close      func(context.Context) error
	parts      []Part

	refs      atomic.Int64 // calls in flight
	retired   atomic.Bool  // Close has begun
	drainOnce sync.Once
	drained   chan struct{} // closed when retired and no call is in flight
	closeOnce sync.Once
	closeErr  error
}

// NewPipeline compiles stages (stages[0] outermost) and completers. close,
// if not nil, releases the stages' resources when the pipeline is retired.
// parts, if given, are the built entries the pipeline came from, for
// [Pipeline.Parts].
func NewPipeline(stages []Stage, completers []Completer, close func(context.Context) error, parts ...Part) *Pipeline {
	return &Pipeline{handler: Chain(stages, noAnswer), completers: completers, close: close, parts: parts,
		drained: make(chan struct{})}
}

// Parts returns the built entries of the pipeline in config order. The
// slice must not be modified.
func (p *Pipeline) Parts() []Part { return p.parts }

// Close retires the pipeline: it waits until the calls in flight on it have
// finished (a stream, until it is drained or closed) or [PersistContext]
// of ctx is done, then releases the stages' resources, flushing what they
// hold. The calls are waited for as long as usage may be saved, since each
// hands its usage event off as it ends; Close does not cut them (a server's
// Close does, and they then end at once). Calls that start after Close are
// not served by p; the engine serves them on the pipeline that replaced it.
// Close is safe to call more than once.
func (p *Pipeline) Close(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.retired.Store(true)
	if p.refs.Load() == 0 {
		p.drain()
	}
	select {
	case <-p.drained:
	case <-PersistContext(ctx).Done():
	}
	p.closeOnce.Do(func() {
		if p.close != nil {
			p.closeErr = p.close(ctx)
		}
	})
	return p.closeErr
}

// InFlight reports how many calls are running on the pipeline.
func (p *Pipeline) InFlight() int64 { return p.refs.Load() }

func (p *Pipeline) drain() { p.drainOnce.Do(func() { close(p.drained) }) }

// release ends one call on p.
func (p *Pipeline) release() {
	if p.refs.Add(-1) == 0 && p.retired.Load() {
		p.drain()
	}
}

// acquire returns the engine's current pipeline with a call counted on it,
// so that a swap cannot retire it under the call; nil once the engine is
// closed (its pipeline retired and not replaced), whose stages, usage
// tracking included, serve no more calls.
func (e *Engine) acquire() *Pipeline {
	for {
		p := e.pipeline.Load()
		p.refs.Add(1)
		if e.pipeline.Load() == p {
			if p.retired.Load() {
				p.release()
				return nil
			}
			return p
		}
		p.release() // swapped meanwhile: count the call on the new one
	}
}

// errClosed answers a call made after [Engine.Close]: it would reach the
// upstream with no stage left to record its usage.
func errClosed() *Error {
	return &Error{Kind: KindInternal, Status: http.StatusServiceUnavailable, Code: "engine_closed",
		Message: "the gateway is closed and serves no more calls (Engine.Close was called)"}
}

// Option configures an [Engine].
type Option func(*Engine)

// WithPipeline sets the pipeline the engine starts with.
func WithPipeline(p *Pipeline) Option { return func(e *Engine) { e.pipeline.Store(p) } }

// WithFormats registers the wire formats the engine speaks.
func WithFormats(f ...Format) Option { return func(e *Engine) { e.formats = append(e.formats, f...) } }

// WithUpstream adds an upstream. A call goes to the upstream its route
// prefix or upstream header names, else to the first upstream of its format
// whose [Upstream.Models] patterns match its model, else to its format's
// default: the first upstream of that format added without model patterns.
// An upstream's name must be unique; a later one with the same name replaces
// it for routing by name.
func WithUpstream(u *Upstream) Option {
	return func(e *Engine) {
		e.upstreams = append(e.upstreams, u)
		e.byName[u.Name] = u
		if _, ok := e.defaults[u.Format]; !ok && len(u.Models) == 0 {
			e.defaults[u.Format] = u
		}
	}
}

// WithUpstreamHeader names the request header that picks an upstream by name
// (default X-Tollgate-Upstream). The header is not forwarded.
func WithUpstreamHeader(name string) Option {
	return func(e *Engine) { e.upstreamHeader = http.CanonicalHeaderKey(name) }
}

// WithCustomerHeader names the request header that attributes a call to a
// customer (default X-Tollgate-Customer), and whether a call without one is
// refused (otherwise it is tracked as unattributed).
func WithCustomerHeader(name string, required bool) Option {
	return func(e *Engine) {
		e.customerHeader = http.CanonicalHeaderKey(name)
		e.requireCustomer = required
	}
}

// WithMetadataPrefix sets the header prefix whose headers become usage-event
// metadata (default X-Tollgate-Meta-: "X-Tollgate-Meta-Team: ml" tags team=ml).
func WithMetadataPrefix(prefix string) Option {
	return func(e *Engine) { e.metaPrefix = http.CanonicalHeaderKey(prefix) }
}

// WithMaxBodyBytes caps the request body the engine reads (default 32 MiB).
func WithMaxBodyBytes(n int64) Option { return func(e *Engine) { e.maxBodyBytes = n } }

// WithLogger sets the engine's logger.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithPassthrough sets the transport [Engine.Transport] uses for requests it
// does not track (paths of no known operation). Default http.DefaultTransport.
func WithPassthrough(rt http.RoundTripper) Option { return func(e *Engine) { e.passthrough = rt } }

// New returns an engine. Without [WithPipeline] every call fails with a
// configuration error until [Engine.Swap] installs one.
func New(opts ...Option) *Engine {
	e := &Engine{
		byName:         map[string]*Upstream{},
		defaults:       map[string]*Upstream{},
		upstreamHeader: "X-Tollgate-Upstream",
		customerHeader: "X-Tollgate-Customer",
		metaPrefix:     "X-Tollgate-Meta-",
		maxBodyBytes:   32 << 20,
		passthrough:    http.DefaultTransport,
		log:            slog.Default(),
	}
	for _, o := range opts {
		o(e)
	}
	if e.pipeline.Load() == nil {
		e.pipeline.Store(NewPipeline(nil, nil, nil))
	}
	return e
}

// Swap installs p for new calls and returns the pipeline it replaces; calls
// in flight finish on the old one. The caller closes the old pipeline, which
// waits for those calls: go old.Close(ctx).
func (e *Engine) Swap(p *Pipeline) *Pipeline { return e.pipeline.Swap(p) }

// Pipeline returns the pipeline that serves new calls.
func (e *Engine) Pipeline() *Pipeline { return e.pipeline.Load() }

// Close retires the current pipeline: it waits for calls in flight, then
// persists pending usage events and lets the sinks deliver, within ctx's
// deadline. To end a shutdown early without losing usage, pass a ctx that
// carries the original deadline with [WithPersistContext] and cancel ctx:
// delivery stops at once, what is undelivered stays queued for the next
// start, and calls in flight (cut them with their server's Close) and
// events in memory are still saved. A call made after Close is refused
// (503 engine_closed) and reaches no upstream.
func (e *Engine) Close(ctx context.Context) error { return e.pipeline.Load().Close(ctx) }

// Do runs one call. req needs at least Method, Path and Body; the engine
// fills in the rest (ID, format, model, customer and metadata from ctx). A
// provider error comes back as an [*Error] of kind upstream with the
// provider's status and body. A streamed Response must be drained or closed.
func (e *Engine) Do(ctx context.Context, req *Request) (*Response, error) {
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if err := e.prepare(ctx, req, nil); err != nil {
		e.finishEarly(ctx, req, err)
		return nil, err
	}
	return e.serve(ctx, req)
}

// prepare completes a request at ingress: id, format, attribution, parse,
// upstream. The header, if not nil, is the client's raw header.
func (e *Engine) prepare(ctx context.Context, req *Request, h http.Header) error {
	if req.ID == "" {
		req.ID = NewID()
	}
	if req.Received.IsZero() {
		req.Received = time.Now()
	}
	var queryKey string
	req.RawQuery, queryKey = stripCredentialQuery(req.RawQuery)
	if err := checkPath(req.Path); err != nil {
		return err
	}
	if err := checkMethod(req.Method); err != nil {
		return err
	}
	if req.Format == nil {
		rt, ok := e.route(req.Method, req.Path, req.Header)
		if !ok {
			return unknownEndpoint(req.Method, req.Path)
		}
		req.Format, req.Operation, req.Path = rt.format, rt.op, rt.path
		if req.Upstream == nil {
			req.Upstream = rt.upstream
		}
	}
	var a attribution
	if h != nil {
		req.Header, a = e.splitHeader(h)
	} else if req.Header == nil {
		req.Header = http.Header{}
	} else if v := req.Header.Get(e.upstreamHeader); v != "" {
		a.upstream = v
		req.Header.Del(e.upstreamHeader)
	}
	if e.auth != nil && h != nil && (req.Upstream == nil || !req.Upstream.direct) {
		if err := e.authenticate(ctx, req, &a, queryKey); err != nil {
			return err
		}
	}
	if c, ok := CustomerFrom(ctx); ok && req.Customer == "" && req.Principal == nil {
		req.Customer = c
	}
	if req.Customer == "" {
		req.Customer = a.customer
		if a.customerTwice != "" {
			req.Customer = ""
			return Errorf(KindValidation, "invalid_customer",
				"the %s header is sent more than once with different values (%q and %q): a call is billed to one customer",
				e.customerHeader, clip(a.customer, 64), clip(a.customerTwice, 64))
		}
	}
	if err := CheckCustomerID(req.Customer); err != nil {
		source := "the customer id"
		if h != nil && req.Customer == a.customer {
			source = "the " + e.customerHeader + " header"
		}
		req.Customer = "" // the refusal's own usage event must not carry it
		return &Error{Kind: KindValidation, Code: "invalid_customer", Message: source + " " + err.Error()}
	}
	req.Metadata = mergeMetadata(req.Metadata, MetadataFrom(ctx), a.metadata)
	if err := e.checkMetadata(req.Metadata, h); err != nil {
		req.Metadata = nil // the refusal's own usage event must not carry them
		return &Error{Kind: KindValidation, Code: "invalid_metadata", Message: err.Error()}
	}
	req.Format.Parse(req)
	if err := checkModelName(req.Model); err != nil {
		req.Model = ""
		return &Error{Kind: KindValidation, Code: "invalid_model", Param: "model", Message: "the model " + err.Error()}
	}
	if err := checkModel(req); err != nil {
		return err
	}
	if req.Customer == "" && e.requireCustomer {
		return &Error{Kind: KindValidation, Code: "missing_customer",
			Message: "the call names no customer: set the " + e.customerHeader + " header"}
	}
	if req.Upstream == nil {
		return e.pickUpstream(req, a.upstream)
	}
	return nil
}

// checkMetadata is CheckMetadata naming the client's header where a refused
// tag came from one (its name is the prefix and the tag's, its value the tag's).
func (e *Engine) checkMetadata(m map[string]string, h http.Header) error {
	if len(m) == 0 {
		return nil
	}
	return checkMetadata(m, func(name, value string) string {
		if h == nil || e.metaPrefix == "" {
			return ""
		}
		header := http.CanonicalHeaderKey(e.metaPrefix + name)
		if v := h[header]; len(v) > 0 && v[0] == value {
			return header
		}
		return ""
	})
}

func mergeMetadata(ms ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range ms {
		if len(m) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(m))
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// serve runs the pipeline and arranges for the completers to see the outcome
// once: now for a whole answer or an error, at the end for a stream. A panic
// in a stage fails this call alone, with a 500.
func (e *Engine) serve(ctx context.Context, req *Request) (resp *Response, err error) {
	p := e.acquire()
	if p == nil {
		return nil, errClosed()
	}
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("a stage panicked; failing the call", "id", req.ID, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, &Error{Kind: KindInternal, Code: "internal_error", Message: "internal error: a stage failed unexpectedly"}
			o := &Outcome{Request: req, Err: err, Context: ctx}
			spent(req, nil, o)
			e.finish(p, o)
		}
	}()
	for _, o := range e.observers {
		ctx = o.StartCall(ctx, req)
	}
	resp, err = p.handler(ctx, req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrClientGone) {
			err = ClientGone(ctx, err)
		}
		o := req.setOutcome(Outcome{Request: req, Err: err, Context: ctx})
		spent(req, resp, o)
		e.finish(p, o)
		return nil, err
	}
	if resp.Stream != nil {
		resp.Stream = e.meter(p, ctx, req, resp)
		return resp, nil
	}
	resp.ReadUsage(req)
	e.finish(p, req.setOutcome(Outcome{Request: req, Response: resp, Usage: resp.Usage, Context: ctx}))
	return resp, nil
}

// spent counts in o, the outcome of a call that failed, the tokens the
// upstream spent on an answer a stage then failed or refused (an output
// guardrail; a stage failing closed, whose guard passes the answer on
// beside its error), and closes the streams no one will read.
//
// The engine is the one owner of those streams: resp's, which a stage
// passed on beside its error, and the stream the call stage metered
// ([MeterStream]) when a stage let it go without closing it (a panic, a
// stage that dropped it). A stage that closed the stream itself has
// closed it: it is not closed again.
func spent(req *Request, resp *Response, o *Outcome) {
	if resp != nil && resp.Stream != nil {
		resp.Stream.Close()
	}
	if up := req.metered; up != nil {
		if !up.closed {
			up.Close()
		}
		up.settle()
		o.Usage, o.UpstreamRequestID = up.resp.Usage, requestID(up.resp.Header)
		return
	}
	if resp != nil {
		resp.ReadUsage(req)
		o.Usage, o.UpstreamRequestID = resp.Usage, requestID(resp.Header)
	}
}

// meter returns resp's stream wrapped to report the call's outcome when it
// ends. A stream the call stage metered as the upstream sent it
// ([MeterStream]) keeps that usage and is judged by the upstream's events;
// another is metered here, as the client gets it.
func (e *Engine) meter(p *Pipeline, ctx context.Context, req *Request, resp *Response) *meteredStream {
	up := req.metered
	if up == nil {
		return &meteredStream{e: e, p: p, ctx: ctx, req: req, resp: resp, inner: resp.Stream, obs: req.Format.ObserveStream(req)}
	}
	s := &up.exit
	*s = meteredStream{e: e, p: p, ctx: ctx, req: req, resp: resp, inner: resp.Stream, obs: up.obs, up: up}
	return s
}

// finishEarly reports an ingress failure of a parsed request.
func (e *Engine) finishEarly(ctx context.Context, req *Request, err error) {
	if p := e.acquire(); p != nil && req.Format != nil {
		e.finish(p, &Outcome{Request: req, Err: err, Context: ctx})
	}
}

// finish fills in the outcome's derived fields, hands it to the pipeline's
// completers and the engine's observers, and ends the call on p.
func (e *Engine) finish(p *Pipeline, o *Outcome) {
	defer p.release()
	if o.Latency == 0 {
		o.Latency = time.Since(o.Request.Received)
	}
	// The formats apply the rule to what upstreams report; a stage or a
	// plugin may set usage too, and a total must never wrap.
	if err := CheckUsage(o.Usage); err != nil {
		o.Usage = EstimatedUsage(Usage{}, "the usage recorded for the call cannot be true: "+err.Error())
	}
	o.Usage.TotalTokens = o.Usage.InputTokens + o.Usage.OutputTokens
	if o.Usage.Problem != "" {
		e.warnUsage(o)
	}
	switch {
	case o.Err != nil:
		ae := AsError(o.Err)
		if o.Status == "" {
			o.Status = statusOf(ae)
		}
		if o.HTTPStatus == 0 {
			o.HTTPStatus = ae.HTTPStatus()
		}
		if o.UpstreamRequestID == "" && o.Response == nil {
			o.UpstreamRequestID = requestID(ae.Header)
		}
	default:
		if o.Status == "" {
			o.Status = StatusOK
		}
		if o.HTTPStatus == 0 {
			o.HTTPStatus = o.Response.Status
		}
	}
	if o.UpstreamRequestID == "" && o.Response != nil {
		o.UpstreamRequestID = requestID(o.Response.Header)
	}
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("call", "id", o.Request.ID, "operation", o.Request.Operation, "model", o.Request.Model,
			"status", o.Status, "http_status", o.HTTPStatus, "latency", o.Latency, "customer", o.Request.Customer)
	}
	for _, c := range p.completers {
		e.complete(c, o)
	}
	for _, c := range e.observers {
		e.complete(c, o)
	}
}

// complete runs one completer; a panic in it never reaches the caller.
func (e *Engine) complete(c Completer, o *Outcome) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("completer panicked", "id", o.Request.ID, "panic", r)
		}
	}()
	c.Complete(o)
}

// requestID is the provider's id for a call, from its response headers.
func requestID(h http.Header) string {
	if v := h.Get("X-Request-Id"); v != "" {
		return v
	}
	return h.Get("Request-Id")
}

// meteredStream reports the outcome of a streamed call when the stream
// ends, fails, or is closed early. Without up it reads usage from each
// event as it leaves the pipeline; with up, the usage and the stream's end
// are the upstream's, read where the call stage made the stream, and here
// it only hides from the client the events the gateway asked for.
type meteredStream struct {
	e     *Engine
	p     *Pipeline
	ctx   context.Context
	req   *Request
	resp  *Response
	inner Stream
	obs   StreamObserver  // up's observer when up is set
	up    *upstreamStream // the stream as the upstream sent it, or nil
	ttft  time.Duration
	once  sync.Once
	hider *hider // with up: judges the events a stage made, from the first one
}

// hider is an observer of the events a stage made in a stream the call
// stage metered: it tells the ones the gateway asked for, and what it
// counts of them counts nothing.
type hider struct {
	obs   StreamObserver
	usage Usage
}

func (s *meteredStream) Next() (ev *Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.e.log.Error("a stream stage panicked; ending the stream", "id", s.req.ID, "panic", r, "stack", string(debug.Stack()))
			ev, err = nil, &Error{Kind: KindInternal, Code: "internal_error", Message: "internal error: a stage failed unexpectedly"}
			s.end(err, StatusError)
		}
	}()
	for {
		ev, err := s.inner.Next()
		if err != nil {
			return nil, s.ended(err)
		}
		if s.ttft == 0 && (ev.Data != nil || ev.Name != "") { // not a keep-alive comment
			s.ttft = time.Since(s.req.Received)
		}
		if s.keep(ev) {
			return ev, nil
		}
	}
}

// keep reports whether the client gets ev, and without up meters it.
func (s *meteredStream) keep(ev *Event) bool {
	switch up := s.up; {
	case up == nil:
		return s.obs == nil || s.obs.Observe(ev, &s.resp.Usage)
	case ev == up.last:
		// The event the upstream sent last, passed on (perhaps rewritten
		// in place): its observer has said whether the client sees it.
		return up.keep
	}
	// An event a stage made (a replay, its own closing event): nothing of
	// the upstream's to meter, but it may be one the gateway asked for.
	if s.hider == nil {
		s.hider = &hider{obs: s.req.Format.ObserveStream(s.req)}
	}
	return s.hider.obs == nil || s.hider.obs.Observe(ev, &s.hider.usage)
}

// ended records the outcome of a stream whose inner stream returned err,
// and returns what the client's Next gets.
func (s *meteredStream) ended(err error) error {
	finished := s.obs == nil || s.obs.Finished()
	broken := err != io.EOF && !finished // the client's Next gets err, else io.EOF
	denied := errors.Is(err, ErrDenied)  // a stage refused the answer: its error stands
	up := s.up
	switch failure := streamFailure(s.obs); {
	case failure != nil && !denied:
		// The provider said what went wrong (an error event, then the end
		// or a broken connection): that is the call's error, even if the
		// client hung up on it.
		s.end(failure, StatusUpstreamError)
	case up != nil && up.broke() && !finished && !denied:
		// The upstream's stream broke, whatever a stage made of it.
		s.end(up.end, "")
	case broken && up != nil && !denied && s.ctx.Err() == nil:
		// A stage failed on a stream the upstream was still sending well.
		s.end(err, statusOf(err))
	case broken:
		s.end(err, "")
	case !finished && up != nil && up.end == nil:
		// A stage ended the stream while the upstream was still sending:
		// the client got less than the upstream made, and the upstream
		// bills what it made.
		s.end(errStageCutShort, StatusError)
	case !finished:
		// A clean end before the format's last event: the answer is cut
		// short as surely as by a broken connection.
		s.end(errCutShort, "")
	default:
		// After the format's last event the client has the whole answer,
		// whatever then ends the connection (the client hanging up as soon
		// as it read it, which cancels the upstream read; the upstream
		// closing): the stream ends cleanly.
		s.end(nil, "")
	}
	if broken {
		return err
	}
	return io.EOF
}

// errCutShort is the error of a stream that ended cleanly before its
// format's last event.
var errCutShort = &Error{Kind: KindUpstream, Code: "stream_cut_short",
	Message: "the upstream ended the stream before its last event"}

// errStageCutShort is the error of a stream that a stage ended cleanly
// while the upstream was still sending, before its last event. A stage
// that means to (an output guardrail) ends it with [ErrDenied] instead.
var errStageCutShort = &Error{Kind: KindInternal, Code: "stream_cut_short_by_stage",
	Message: "a stage ended the stream before the upstream's last event"}

// Close ends the stream; before the last event, that means the client went
// away.
func (s *meteredStream) Close() error {
	switch failure := streamFailure(s.obs); {
	case failure != nil:
		s.end(failure, StatusUpstreamError) // the client hung up on the provider's error event
	case s.obs != nil && s.obs.Finished():
		s.end(nil, "")
	case s.up != nil && s.up.broke():
		s.end(s.up.end, "") // broken before the client left, unless its leaving broke it
	default:
		s.end(ClientGone(s.ctx, nil), StatusClientAborted)
	}
	return s.inner.Close()
}

// end reports the outcome once. The stream's status line has reached the
// client, so that is the event's http_status whatever then happens to
// the stream, but for a client that went away (499).
func (s *meteredStream) end(err error, status string) {
	s.once.Do(func() {
		if up := s.up; up != nil {
			up.settle() // before the client's leaving closes it
			s.resp.Usage = up.resp.Usage
		}
		if err == nil {
			s.resp.UsageKnown = true
			if s.up != nil {
				s.up.resp.UsageKnown = true
			}
		}
		o := &Outcome{Request: s.req, Response: s.resp, Usage: s.resp.Usage, TimeToFirstToken: s.ttft, Status: status,
			Context: s.ctx}
		if err != nil {
			o.Err, o.HTTPStatus = err, s.resp.Status
			switch {
			case status != "":
			case errors.Is(err, ErrDenied):
				// A stage cut the stream short on purpose, after writing its
				// own closing event — which the client may have read and
				// hung up on before this runs: still a denial.
				o.Status = StatusDenied
			case s.ctx.Err() != nil:
				// What the read then failed with (a closed connection, naming
				// the upstream) is the cancellation's doing, not the cause.
				o.Status, o.Err = StatusClientAborted, ClientGone(s.ctx, err)
			default:
				o.Status = StatusUpstreamError
			}
			if o.Status == StatusClientAborted {
				o.HTTPStatus = 499
			}
		}
		s.e.finish(s.p, o)
	})
}

// streamFailure is the error a stream that ended cleanly reported inside
// itself, if its observer tells of one ([StreamFailer]).
func streamFailure(obs StreamObserver) error {
	f, ok := obs.(StreamFailer) // false for a nil obs too
	if !ok {
		return nil
	}
	if msg := f.Failure(); msg != "" {
		return &Error{Kind: KindUpstream, Code: "stream_error", Message: "the upstream reported an error in the stream: " + msg}
	}
	return nil
}
