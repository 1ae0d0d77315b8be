package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/core"
)

// Writer writes usage events as JSON Lines to a writer, one write per batch
// so that lines from one batch are never interleaved with others.
type Writer struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewWriter returns a sink writing JSON Lines to w; Close does not close w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes the events.
func (s *Writer) Write(_ context.Context, events []*core.UsageEvent) error {
	if err := encodeLines(&s.buf, events); err != nil {
		return err
	}
	_, err := s.w.Write(s.buf.Bytes())
	return err
}

// WriteJSON writes events already in JSON, one line each.
func (s *Writer) WriteJSON(_ context.Context, events [][]byte) error {
	joinLines(&s.buf, events)
	_, err := s.w.Write(s.buf.Bytes())
	return err
}

// joinLines writes each event and a newline to buf, replacing its content.
func joinLines(buf *bytes.Buffer, events [][]byte) {
	buf.Reset()
	for _, ev := range events {
		buf.Write(ev)
		buf.WriteByte('\n')
	}
}

// Close does nothing.
func (s *Writer) Close() error { return nil }

// encodeLines writes events to buf as JSON Lines, replacing its content.
func encodeLines(buf *bytes.Buffer, events []*core.UsageEvent) error {
	buf.Reset()
	enc := json.NewEncoder(buf)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("encoding usage event %s: %w", ev.ID, err)
		}
	}
	return nil
}

var _ core.Sink = (*Writer)(nil)
