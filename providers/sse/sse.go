// Package sse decodes server-sent event streams event by event, keeping each
// event's exact bytes so the client receives what the provider sent.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/tollgate-dev/tollgate/core"
)

// Stream reads events from a response body. It implements [core.Stream]:
// each event, and the bytes it points to, are valid until the next call to
// Next. A Stream is not safe for concurrent use.
type Stream struct {
	r    *bufio.Reader
	body io.Closer
	ev   core.Event
	raw  []byte
	data []byte
	err  error
}

// NewStream returns a stream reading from body; Close closes body.
func NewStream(body io.ReadCloser) *Stream {
	return &Stream{r: bufio.NewReaderSize(body, 16<<10), body: body, raw: make([]byte, 0, 1024)}
}

// NewReader returns a stream reading from r, for decoding stored or
// in-memory streams; Close does nothing.
func NewReader(r io.Reader) *Stream {
	return NewStream(io.NopCloser(r))
}

var (
	fieldData  = []byte("data")
	fieldEvent = []byte("event")
)

// Next returns the next event. At the end of the stream it returns io.EOF; a
// stream cut in the middle of an event returns io.ErrUnexpectedEOF or the
// read error.
func (s *Stream) Next() (*core.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.raw, s.data = s.raw[:0], s.data[:0]
	s.ev = core.Event{}
	hasField := false
	dataLines, dataStart, dataEnd := 0, 0, 0
	for {
		start := len(s.raw)
		line, err := s.readLine()
		if len(line) > 0 {
			s.raw = append(s.raw, line...)
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
			s.err = err
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

// readLine returns the next line including its newline, however long.
func (s *Stream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = s.r.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
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
