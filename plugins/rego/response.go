package rego

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/core"
)

// maxHold bounds the answer hold mode keeps in memory.
const maxHold = 16 << 20

// checkResponse runs the response phase on an answer.
func (s *Stage) checkResponse(ctx context.Context, p *policy, req *core.Request, items [][2]*ast.Term, resp *core.Response) (*core.Response, error) {
	if resp.Stream != nil {
		if s.cfg.StreamMode == StreamHold {
			return s.hold(ctx, p, req, items, resp)
		}
		// The stream outlives Handle, whose stack holds items: it keeps a copy.
		kept := append(make([][2]*ast.Term, 0, maxItems), items...)
		resp.Stream = &checkedStream{s: s, p: p, ctx: ctx, req: req, items: kept, inner: resp.Stream, status: resp.Status}
		return resp, nil
	}
	provider := formatName(req)
	resp.ReadUsage(req)
	var text *ast.Term
	if p.needs.respText {
		text = ast.StringTerm(answerText(provider, req.Operation, resp.Body))
	}
	var body ast.Value
	if p.needs.respBody {
		body, _ = jsonValue(resp.Body)
	}
	var u *core.Usage
	if resp.UsageKnown {
		u = &resp.Usage
	}
	in := withPhase(items, phaseResponse, responseTerm(resp.Status, false, text, nil, body, u, true))
	d, err := s.decide(ctx, p, p.resp, req, PhaseResponse, in)
	if err != nil {
		return s.responseFailed(resp, err)
	}
	if len(d.deny) > 0 {
		return resp, s.refusal(d, PhaseResponse)
	}
	if d.patch != nil {
		b, err := applyPatch(resp.Body, d.patch)
		if err != nil {
			return s.responseFailed(resp, fmt.Errorf("applying the policy's patch to the answer: %w", err))
		}
		resp.Body = b
	}
	if d.headers != nil {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		setHeaders(resp.Header, d.headers)
	}
	return resp, nil
}

// responseFailed applies on_error to a response-phase failure: fail_open
// lets the answer through, fail_closed withholds it.
func (s *Stage) responseFailed(resp *core.Response, err error) (*core.Response, error) {
	if s.failOpen {
		s.log.Warn("response policy failed; letting the answer through (on_error: fail_open)", "err", err)
		return resp, nil
	}
	s.log.Error("response policy failed; withholding the answer (on_error: fail_closed)", "err", err)
	return resp, s.policyFailure(err)
}

// hold reads the whole stream, checks the complete answer, and then
// replays it, or refuses it with nothing sent.
func (s *Stage) hold(ctx context.Context, p *policy, req *core.Request, items [][2]*ast.Term, resp *core.Response) (*core.Response, error) {
	provider := formatName(req)
	var (
		held    []*core.Event
		text    []byte
		size    int
		readErr error
		u       core.Usage
		obs     = req.Format.ObserveStream(req)
	)
	for {
		ev, err := resp.Stream.Next()
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		c := &core.Event{Raw: clone(ev.Raw), Name: ev.Name, Data: clone(ev.Data)}
		held = append(held, c)
		if obs != nil {
			obs.Observe(&core.Event{Raw: c.Raw, Name: c.Name, Data: c.Data}, &u)
		}
		text = deltaText(text, provider, req.Operation, ev.Name, ev.Data)
		if size += len(ev.Raw); size > maxHold {
			resp.Stream.Close()
			resp.Stream, resp.Usage, resp.UsageKnown = nil, u, true
			return s.responseFailed(&core.Response{Status: resp.Status, Header: resp.Header, Stream: replay(held, errHoldLimit)},
				errHoldLimit)
		}
	}
	replayed := replay(held, readErr)
	if readErr != nil {
		// The upstream broke: there is no whole answer to check. The client
		// gets what arrived and the break, as without the stage.
		resp.Stream = replayed
		return resp, nil
	}
	in := withPhase(items, phaseResponse, responseTerm(resp.Status, true, ast.StringTerm(string(text)), nil, nil, &u, true))
	d, err := s.decide(ctx, p, p.resp, req, PhaseResponse, in)
	if err == nil && len(d.deny) > 0 {
		resp.Stream.Close()
		resp.Stream, resp.Usage, resp.UsageKnown = nil, u, true
		return resp, s.refusal(d, PhaseResponse)
	}
	if err != nil {
		if !s.failOpen {
			resp.Stream.Close()
			resp.Stream, resp.Usage, resp.UsageKnown = nil, u, true
		} else {
			resp.Stream = replayed
		}
		return s.responseFailed(resp, err)
	}
	if d.headers != nil {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		setHeaders(resp.Header, d.headers)
	}
	inner := resp.Stream
	resp.Stream = core.StreamFunc{NextFunc: replayed.Next, CloseFunc: func() error { replayed.Close(); return inner.Close() }}
	return resp, nil
}

var errHoldLimit = fmt.Errorf("the answer is over the %d MiB that stream_mode hold keeps in memory", maxHold>>20)

// replay returns a stream of held events, then err (io.EOF if nil).
func replay(events []*core.Event, err error) core.Stream {
	if err == nil {
		err = io.EOF
	}
	i := 0
	return core.StreamFunc{NextFunc: func() (*core.Event, error) {
		if i >= len(events) {
			return nil, err
		}
		i++
		return events[i-1], nil
	}}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func formatName(req *core.Request) string {
	if req.Format == nil {
		return ""
	}
	return req.Format.Name()
}

// checkedStream checks the answer as each event carrying text passes. The
// policy sees the tail of the text so far (stream_window bytes) as
// input.response.text and the event's own text as input.response.delta.
// On a denial the offending event is withheld, an error event in the
// provider's shape closes the stream, and the upstream read is cancelled.
type checkedStream struct {
	s      *Stage
	p      *policy
	ctx    context.Context
	req    *core.Request
	items  [][2]*ast.Term
	inner  core.Stream
	status int

	window  []byte
	closing *core.Event
	err     error
}

func (c *checkedStream) Next() (*core.Event, error) {
	if c.err != nil {
		if ev := c.closing; ev != nil {
			c.closing = nil
			return ev, nil
		}
		return nil, c.err
	}
	ev, err := c.inner.Next()
	if err != nil {
		return ev, err
	}
	before := len(c.window)
	c.window = deltaText(c.window, formatName(c.req), c.req.Operation, ev.Name, ev.Data)
	if len(c.window) == before {
		return ev, nil
	}
	delta := ast.StringTerm(string(c.window[before:]))
	if max := c.s.cfg.StreamWindow; len(c.window) > max {
		c.window = append(c.window[:0], c.window[len(c.window)-max:]...)
	}
	in := withPhase(c.items, phaseResponse, responseTerm(c.status, true, ast.StringTerm(string(c.window)), delta, nil, nil, false))
	d, err := c.s.decide(c.ctx, c.p, c.p.resp, c.req, PhaseResponse, in)
	switch {
	case err != nil && c.s.failOpen:
		c.s.log.Warn("response policy failed on a stream event; letting it through (on_error: fail_open)", "id", c.req.ID, "err", err)
		return ev, nil
	case err != nil:
		c.s.log.Error("response policy failed on a stream event; ending the stream (on_error: fail_closed)", "id", c.req.ID, "err", err)
		c.cut(c.s.policyFailure(err))
	case len(d.deny) > 0:
		c.cut(c.s.refusal(d, PhaseResponse))
	default:
		return ev, nil
	}
	return c.Next()
}

// cut ends the stream with a refusal: a closing error event, then e.
func (c *checkedStream) cut(e *core.Error) {
	c.err = e
	c.inner.Close()
	body := c.req.Format.ErrorBody(e)
	raw := make([]byte, 0, len(body)+32)
	name := ""
	if formatName(c.req) == "anthropic" {
		name = "error"
		raw = append(raw, "event: error\n"...)
	}
	raw = append(raw, "data: "...)
	raw = append(raw, body...)
	raw = append(raw, "\n\n"...)
	c.closing = &core.Event{Raw: raw, Name: name, Data: body}
}

func (c *checkedStream) Close() error { return c.inner.Close() }
