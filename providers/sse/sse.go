// Package sse decodes server-sent event streams event by event, keeping each
// event's exact bytes so the client receives what the provider sent.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/core"
)

// DefaultMaxEventBytes is the most bytes one event may take unless
// [MaxEventBytes] sets another limit: 64 MiB, the call stage's default
// max_response_bytes. One event can carry a whole answer (the Responses
// API's response.completed repeats it; a Gemini chunk can hold a whole
// image), so an event may be as large as an answer that is not streamed.
const DefaultMaxEventBytes = 64 << 20

// ErrEventTooLarge is matched, with [errors.Is], by the error Next returns
// for an event over the stream's limit.
var ErrEventTooLarge = errors.New("sse: event too large")

// tooLarge is the error of an event over the limit, in words for the
// usage event's error field.
type tooLarge struct{ max int64 }

func (e tooLarge) Error() string {
	return fmt.Sprintf("an event of the upstream's stream is over %d bytes: the gateway stopped reading it there "+
		"and ended the stream (the call stage's max_response_bytes sets the limit)", e.max)
}

func (e tooLarge) Is(target error) bool { return target == ErrEventTooLarge }

// Stream reads events from a response body. It implements [core.Stream]:
// each event, and the bytes it points to, are valid until the next call to
// Next. A Stream is not safe for concurrent use.
type Stream struct {
	r    *bufio.Reader
	body io.Closer
	ev   core.Event
	raw  []byte
	data []byte
	max  int64
	err  error
}

// Option configures a [Stream] when it is made.
type Option func(*Stream)

// MaxEventBytes caps the bytes of one event, its comments and blank lines
// included; Next fails on an event that goes over, having read about n
// bytes of it. n <= 0 keeps [DefaultMaxEventBytes].
func MaxEventBytes(n int64) Option {
	return func(s *Stream) {
		if n > 0 {
			s.max = n
		}
	}
}

// NewStream returns a stream reading from body; Close closes body.
func NewStream(body io.ReadCloser, opts ...Option) *Stream {
	s := &Stream{r: bufio.NewReaderSize(body, 16<<10), body: body, raw: make([]byte, 0, 1024), max: DefaultMaxEventBytes}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewReader returns a stream reading from r, for decoding stored or
// in-memory streams; Close does nothing.
func NewReader(r io.Reader, opts ...Option) *Stream {
	return NewStream(io.NopCloser(r), opts...)
}

var (
	fieldData  = []byte("data")
	fieldEvent = []byte("event")
)

// Next returns the next event. At the end of the stream it returns io.EOF; a
// stream cut in the middle of an event returns io.ErrUnexpectedEOF or the
// read error; an event over the size limit returns an error that matches
// [ErrEventTooLarge]. After an error, Next returns it again.
//
// Comments and blank lines read before an event's first field are returned
// on their own, as an event with no name and nil Data, as soon as the next
// read would wait for the body: an upstream's keep-alive comments reach the
// client while the model thinks, not with the next event.
func (s *Stream) Next() (*core.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.raw, s.data = s.raw[:0], s.data[:0]
	s.ev = core.Event{}
	hasField := false
	dataLines, dataStart, dataEnd := 0, 0, 0
	for {
		if !hasField && len(s.raw) > 0 && !s.lineBuffered() {
			break // comments only so far, and the next line is not here yet
		}
		start := len(s.raw)
		err := s.readLine()
		if len(s.raw) > start {
			content := bytes.TrimRight(s.raw[start:], "\r\n")
			if len(content) == 0 && hasField {
				break // the blank line that ends the event
			}
			if len(content) > 0 && content[0] != ':' { // a field; ':' starts a comment
				hasField = true
				name, value := content, content[:0]
				if i := bytes.IndexByte(content, ':'); i >= 0 {
					name, value = content[:i], content[i+1:]
					if len(value) > 0 && value[0] == ' ' {
						value = value[1:]
					}
				}
				switch {
				case bytes.Equal(name, fieldData):
					off := start + len(content) - len(value)
					switch dataLines {
					case 0:
						dataStart, dataEnd = off, off+len(value)
					case 1:
						s.data = append(s.data, s.raw[dataStart:dataEnd]...)
						fallthrough
					default:
						s.data = append(append(s.data, '\n'), value...)
					}
					dataLines++
				case bytes.Equal(name, fieldEvent):
					s.ev.Name = eventName(value)
				}
			}
		}
		if err != nil {
			if err == io.EOF && hasField {
				break // a last event without its blank line: deliver it
			}
			s.err, s.raw, s.data = err, nil, nil // nil: let a large event's memory go now
			return nil, err
		}
	}
	s.ev.Raw = s.raw
	if dataLines == 1 {
		s.ev.Data = s.raw[dataStart:dataEnd]
	} else if dataLines > 1 {
		s.ev.Data = s.data
	}
	return &s.ev, nil
}

// readLine appends the next line, with its newline, to s.raw. It stops
// with an error once the event would go over the limit, so that a line
// without end cannot take the gateway's memory.
func (s *Stream) readLine() error {
	for {
		line, err := s.r.ReadSlice('\n')
		need := len(s.raw) + len(line)
		if int64(need) > s.max {
			return tooLarge{s.max}
		}
		if need > cap(s.raw) {
			s.grow(need)
		}
		s.raw = append(s.raw, line...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// grow makes room in s.raw for need bytes, doubling it but never past the
// limit: append's own growth, 1.25x for large slices, would allocate five
// times an event's size while reading it.
func (s *Stream) grow(need int) {
	n := int(min(max(int64(need), 2*int64(cap(s.raw))), s.max))
	s.raw = append(make([]byte, 0, n), s.raw...)
}

// lineBuffered reports whether a whole line is already read from the body.
func (s *Stream) lineBuffered() bool {
	b, _ := s.r.Peek(s.r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// Close closes the body. It is safe to call more than once.
func (s *Stream) Close() error {
	if s.err == nil {
		s.err = io.ErrClosedPipe
	}
	if s.body == nil {
		return nil
	}
	b := s.body
	s.body = nil
	return b.Close()
}

// eventName returns the event name, without allocating for the names the
// providers use.
func eventName(b []byte) string {
	for _, n := range knownNames {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}

var knownNames = []string{
	"message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta",
	"content_block_stop", "ping", "error", "response.completed", "response.created",
	"response.output_text.delta", "response.in_progress", "response.failed", "response.incomplete",
}

var _ core.Stream = (*Stream)(nil)
