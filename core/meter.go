package core

import "io"

// MeterStream makes resp, a streamed answer an upstream gave to req, the
// one the engine meters: it wraps resp.Stream so that the format's
// [StreamObserver] reads every event as the upstream sent it, before any
// other stage of the pipeline sees it, and returns resp. The call stage
// calls it on the stream it makes; a stage of one's own that calls an
// upstream should too.
//
// The usage a call records is then the upstream's, whatever the stages
// between do with the events: a plugin's stream_event hook dropping the
// event that carries the usage, rewriting its counts, or a stage ending
// the stream early change what the client gets, not what the upstream
// billed. resp.Usage fills in as the upstream's events pass, so that the
// stages holding resp (a rate limit reconciling its estimate, a cache
// storing the answer) see the same usage. How the stream ended is judged
// on the upstream's events too: whether the upstream sent its format's
// last event, reported an error inside the stream, or broke.
//
// A stream the engine gets without it — a cache hit, a plugin's answer,
// a stage of one's own that makes its events — is metered as it leaves
// the pipeline, as the client gets it. What the client gets is the same
// either way: the events the stages produce, less the ones the gateway
// asked the upstream for on its own behalf (OpenAI's usage chunk when the
// client did not ask for it).
//
// The stream is read as every stream is, by one goroutine at a time: the
// engine learns from it which event it returned last.
func MeterStream(req *Request, resp *Response) *Response {
	var obs StreamObserver
	if req.Format != nil && resp.Stream != nil {
		obs = req.Format.ObserveStream(req)
	}
	if obs == nil {
		req.metered = nil // nothing to meter: the engine's exit sees the same
		return resp
	}
	u := &upstreamStream{inner: resp.Stream, req: req, resp: resp, obs: obs}
	req.metered, resp.Stream = u, u
	return resp
}

// upstreamStream is a stream as the upstream sent it, metered by the
// format's observer. The latest one a call made is the call's
// (Request.metered): a stage that closed an earlier one and called the
// upstream again moved on to the new answer.
type upstreamStream struct {
	inner Stream
	req   *Request
	resp  *Response // the upstream's answer: its Usage fills in as events pass
	obs   StreamObserver
	// last is the event Next returned last (nil once the stream ended) and
	// keep what obs said of it: whether the client may see it. The engine
	// hides the events obs hid when they reach the pipeline's exit, as the
	// same event (a stage may have rewritten it in place); an event a stage
	// made itself is judged on its own (meteredStream.keep).
	last *Event
	keep bool
	// end is what inner's Next ended with: nil while the upstream sends,
	// io.EOF for a clean end, else how the stream broke. A stream a stage
	// closed has no end of the upstream's.
	end    error
	closed bool
	// settled: the usage is complete, the stream having ended (settle).
	settled bool
	// exit is the engine's wrapper at the pipeline's exit for this stream,
	// allocated with it (a stream costs the allocations it cost when the
	// engine metered it at the exit alone).
	exit meteredStream
}

func (u *upstreamStream) Next() (*Event, error) {
	ev, err := u.inner.Next()
	if err != nil {
		if u.end == nil && !u.closed {
			u.end = err
		}
		u.last = nil
		u.settle()
		return nil, err
	}
	u.last, u.keep = ev, u.obs.Observe(ev, &u.resp.Usage)
	return ev, nil
}

func (u *upstreamStream) Close() error {
	u.closed = true
	u.settle()
	return u.inner.Close()
}

// settle completes the usage once the upstream's stream is over, ended,
// broken or closed: a stream that ended with no usable report of its
// usage — an estimate, or nothing at all — adds the prompt's estimate
// ([EstimatePrompt]), which a format that reports usage only in its last
// event never gave. The upstream was sent the prompt, and bills it.
func (u *upstreamStream) settle() {
	if u.settled {
		return
	}
	u.settled = true
	if us := &u.resp.Usage; us.Estimated || us.IsZero() {
		*us = EstimatePrompt(u.req, *us)
	}
}

// broke reports whether the upstream's stream broke (not a clean end).
func (u *upstreamStream) broke() bool { return u.end != nil && u.end != io.EOF }
