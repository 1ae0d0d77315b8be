package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/core"
)

// newSink builds the sink a SinkConfig describes.
func newSink(c SinkConfig) (core.Sink, error) {
	switch c.Type {
	case "jsonl":
		if c.Path == "" {
			return nil, fmt.Errorf("path: required for a jsonl sink")
		}
		return OpenJSONL(c.Path)
	case "stdout":
		if c.Path != "" {
			return nil, fmt.Errorf("path: not used by a stdout sink")
		}
		return NewWriterSink(os.Stdout), nil
	case "":
		return nil, fmt.Errorf("type: required (jsonl or stdout)")
	}
	return nil, fmt.Errorf("type: unknown sink type %q (want jsonl or stdout)", c.Type)
}

// WriterSink writes usage events as JSON Lines to a writer, one write per
// batch so that lines from one batch are never interleaved with others.
type WriterSink struct {
	w   io.Writer
	c   io.Closer
	buf bytes.Buffer
}

// NewWriterSink returns a sink writing JSON Lines to w; Close does not close w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// OpenJSONL returns a sink appending JSON Lines to the file at path,
// creating it and its directory.
func OpenJSONL(path string) (*WriterSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	return &WriterSink{w: f, c: f}, nil
}

// Write appends the events.
func (s *WriterSink) Write(_ context.Context, events []*core.UsageEvent) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("encoding usage event %s: %w", ev.ID, err)
		}
	}
	_, err := s.w.Write(s.buf.Bytes())
	return err
}

// Close closes the file, if the sink opened one.
func (s *WriterSink) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

var _ core.Sink = (*WriterSink)(nil)
