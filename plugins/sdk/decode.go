package sdk

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Fields of the request document, as bits of a set of fields read.
const (
	fID = 1 << iota
	fProvider
	fOperation
	fUpstream
	fModel
	fStream
	fCustomer
	fMetadata
	fHeaders
	fStatus
	fUsage
	fRequest

	// fCall are a call's fields; fAllRequest and fAllResponse are what a
	// request and a response document have besides the body.
	fCall        = fID | fProvider | fOperation | fUpstream | fModel | fStream | fCustomer | fMetadata
	fAllRequest  = fCall | fHeaders
	fAllResponse = fRequest | fStatus | fHeaders | fUsage
)

// decodeRequest reads a request hook document into r. The host writes the
// body last: once every other field is read, decoding stops at the body,
// and the body is read only if the hook asks for it.
func decodeRequest(doc []byte, r *Request) error {
	s := scanner{b: doc, lo: -1}
	r.body.doc, r.body.seq = doc, callSeq
	seen := 0
	for k, ok := s.object(); ok; k, ok = s.more() {
		if f := r.CallInfo.field(&s, k); f != 0 {
			seen |= f
			continue
		}
		switch string(k) {
		case "headers":
			r.headers = headers(s.kept())
			seen |= fHeaders
		case "body":
			if seen == fAllRequest {
				r.body.stop(&s)
				return r.own(&s)
			}
			r.body.span(&s)
		case "body_text":
			r.body.textSpan(&s)
		default:
			s.skip()
		}
	}
	if err := r.own(&s); err != nil {
		return err
	}
	return s.end()
}

// own moves the request's strings to a copy of the document they are in.
func (r *Request) own(s *scanner) error {
	own := s.own()
	r.CallInfo.own(own)
	own.bytes((*[]byte)(&r.headers))
	return s.err
}

// field reads a field of a call and returns its bit; 0 if k is not one.
func (c *CallInfo) field(s *scanner, k []byte) int {
	switch string(k) {
	case "id":
		c.ID = s.str()
		return fID
	case "provider":
		c.Provider = s.str()
		return fProvider
	case "operation":
		c.Operation = s.str()
		return fOperation
	case "upstream":
		c.Upstream = s.str()
		return fUpstream
	case "model":
		c.Model = s.str()
		return fModel
	case "stream":
		c.Stream = s.boolean()
		return fStream
	case "customer":
		c.Customer = s.str()
		return fCustomer
	case "metadata":
		c.metadata = stringObject(s.kept())
		return fMetadata
	}
	return 0
}

// own moves the call's strings to the owned copy.
func (c *CallInfo) own(own rebase) {
	own.str(&c.ID)
	own.str(&c.Provider)
	own.str(&c.Operation)
	own.str(&c.Upstream)
	own.str(&c.Model)
	own.str(&c.Customer)
	own.bytes((*[]byte)(&c.metadata))
}

// callInfo reads the request object of a response or stream event.
func (s *scanner) callInfo(c *CallInfo) {
	for k, ok := s.object(); ok; k, ok = s.more() {
		if c.field(s, k) == 0 {
			s.skip()
		}
	}
}

// decodeResponse reads a response hook document into r; like a request,
// it stops at the body.
func decodeResponse(doc []byte, r *Response) error {
	s := scanner{b: doc, lo: -1}
	r.body.doc, r.body.seq = doc, callSeq
	seen := 0
	for k, ok := s.object(); ok; k, ok = s.more() {
		switch string(k) {
		case "request":
			s.callInfo(&r.Request)
			seen |= fRequest
		case "status":
			r.Status = int(s.integer())
			seen |= fStatus
		case "headers":
			r.headers = headers(s.kept())
			seen |= fHeaders
		case "usage":
			r.Usage = s.usage()
			seen |= fUsage
		case "body":
			if seen == fAllResponse {
				r.body.stop(&s)
				return r.own(&s)
			}
			r.body.span(&s)
		case "body_text":
			r.body.textSpan(&s)
		default:
			s.skip()
		}
	}
	if err := r.own(&s); err != nil {
		return err
	}
	return s.end()
}

// own moves the response's strings to a copy of the document they are in.
func (r *Response) own(s *scanner) error {
	own := s.own()
	r.Request.own(own)
	own.bytes((*[]byte)(&r.headers))
	return s.err
}

// usage reads a usage object; nil for null.
func (s *scanner) usage() *Usage {
	if s.null() {
		return nil
	}
	u := new(Usage)
	for k, ok := s.object(); ok; k, ok = s.more() {
		switch string(k) {
		case "input_tokens":
			u.InputTokens = s.integer()
		case "output_tokens":
			u.OutputTokens = s.integer()
		case "total_tokens":
			u.TotalTokens = s.integer()
		case "cached_input_tokens":
			u.CachedInputTokens = s.integer()
		case "cache_write_tokens":
			u.CacheWriteTokens = s.integer()
		case "reasoning_tokens":
			u.ReasoningTokens = s.integer()
		case "usage_estimated":
			u.Estimated = s.boolean()
		default:
			s.skip()
		}
	}
	return u
}

// decodeStreamEvent reads a stream_event hook document into e.
func decodeStreamEvent(doc []byte, e *StreamEvent) error {
	s := scanner{b: doc, lo: -1}
	for k, ok := s.object(); ok; k, ok = s.more() {
		switch string(k) {
		case "request":
			s.callInfo(&e.Request)
		case "event":
			e.Event = s.str()
		case "data":
			e.Data = s.str()
		default:
			s.skip()
		}
	}
	own := s.own()
	e.Request.own(own)
	own.str(&e.Event)
	own.str(&e.Data)
	return s.end()
}

// callSeq counts hook calls: a lazy body refuses to be read from a
// document of an earlier call, whose input buffer the host has reused.
var callSeq uint64

// lazyBody is a document's body, read from the input document only if the
// hook asks for it: most hooks route, tag or check a call without reading
// its body, and a body is most of a document.
type lazyBody struct {
	doc      []byte // the input document: valid during its hook call only
	seq      uint64 // that call
	rest     int    // > 0: the body and the fields after it start at doc[rest]; not read yet
	from, to int    // the raw JSON body, doc[from:to]; empty: none
	text     []byte // body_text's raw string
	textEsc  bool

	read bool
	val  json.RawMessage // the copy, or the body set by SetBody
}

// span reads the body at the scanner.
func (b *lazyBody) span(s *scanner) {
	if s.null() {
		return
	}
	s.ws()
	b.from = s.i
	s.skip()
	b.to = s.i
}

// stop leaves the body, and what follows it, to be read on demand.
func (b *lazyBody) stop(s *scanner) {
	s.ws()
	b.rest = s.i
}

// resolve reads the body and the fields after it, after a stop.
func (b *lazyBody) resolve() {
	if b.rest == 0 {
		return
	}
	b.check()
	s := scanner{b: b.doc, i: b.rest, lo: -1}
	b.rest = 0
	b.span(&s)
	for k, ok := s.more(); ok; k, ok = s.more() {
		if string(k) == "body_text" {
			b.textSpan(&s)
		} else {
			s.skip()
		}
	}
}

func (b *lazyBody) textSpan(s *scanner) {
	if s.null() {
		return
	}
	b.text, b.textEsc = s.rawString()
}

// check panics if the hook's call is over.
func (b *lazyBody) check() {
	if b.seq != callSeq {
		panic("sdk: a document's body was read after its hook returned; read it during the call")
	}
}

// get returns the body: its copy, made on the first call, or the one set.
func (b *lazyBody) get() json.RawMessage {
	if !b.read {
		b.check()
		b.resolve()
		if b.to > b.from {
			b.val = bytes.Clone(b.doc[b.from:b.to])
		}
		b.read = true
	}
	return b.val
}

// set replaces the body.
func (b *lazyBody) set(body []byte) { b.val, b.read = body, true }

// getText returns the body_text field.
func (b *lazyBody) getText() string {
	if b.rest > 0 {
		b.resolve()
	}
	if len(b.text) == 0 {
		return ""
	}
	b.check()
	if b.textEsc {
		return string(unescape(b.text))
	}
	return string(b.text)
}

// hookName returns the hook field of a document (process plugins, which
// get every hook through one method). It reads no further than the field.
func hookName(doc []byte) (string, error) {
	s := scanner{b: doc}
	for k, ok := s.object(); ok; k, ok = s.more() {
		if string(k) == "hook" {
			return strings.Clone(s.str()), s.err
		}
		s.skip()
	}
	if s.err != nil {
		return "", s.err
	}
	return "", errNoHook
}

// stringObject is a document's raw object of strings ({"key":"value"}),
// read on demand.
type stringObject []byte

// get returns the value of key (the last one, if the key repeats, as in a
// map decoded from the object).
func (o stringObject) get(key string) (v string, found bool) {
	s := scanner{b: o, lo: -1}
	for k, ok := s.object(); ok; k, ok = s.more() {
		if bstr(k) == key {
			v, found = s.str(), true
		} else {
			s.skip()
		}
	}
	return v, found && s.err == nil
}

// all builds the map of every key.
func (o stringObject) all() map[string]string {
	m := map[string]string{}
	s := scanner{b: o, lo: -1}
	for k, ok := s.object(); ok; k, ok = s.more() {
		m[bstr(k)] = s.str()
	}
	return m
}

// headers is a document's raw headers object ({"Name":["value",...]}),
// read on demand: most hooks look at no header, or at one.
type headers []byte

// get returns the first value of the header name, matched without regard
// to case.
func (h headers) get(name string) string {
	s := scanner{b: h, lo: -1}
	v := ""
	for k, ok := s.object(); ok; k, ok = s.more() {
		if !strings.EqualFold(bstr(k), name) {
			s.skip()
			continue
		}
		v = ""
		for more, first := s.array(), true; more; more, first = s.next(), false {
			if first {
				v = s.str()
			} else {
				s.skip()
			}
		}
	}
	return v
}

// all builds the map of every header.
func (h headers) all() map[string][]string {
	m := map[string][]string{}
	s := scanner{b: h, lo: -1}
	for k, ok := s.object(); ok; k, ok = s.more() {
		var vs []string
		for more := s.array(); more; more = s.next() {
			vs = append(vs, s.str())
		}
		m[bstr(k)] = vs
	}
	return m
}
