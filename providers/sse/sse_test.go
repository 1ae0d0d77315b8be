package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type want struct{ name, data, raw string }

func TestStream(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []want
		wantErr error
	}{
		{"data events", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []want{
			{"", `{"a":1}`, "data: {\"a\":1}\n\n"}, {"", "[DONE]", "data: [DONE]\n\n"}}, io.EOF},
		{"named events, CRLF", "event: message_start\r\ndata: {}\r\n\r\n", []want{
			{"message_start", "{}", "event: message_start\r\ndata: {}\r\n\r\n"}}, io.EOF},
		{"multi-line data joined", "data: a\ndata: b\ndata:c\n\n", []want{{"", "a\nb\nc", "data: a\ndata: b\ndata:c\n\n"}}, io.EOF},
		{"comments and leading blank lines travel with the next event", ": ping\n\n\ndata: x\n\n", []want{
			{"", "x", ": ping\n\n\ndata: x\n\n"}}, io.EOF},
		{"last event without blank line is delivered", "data: x\n\ndata: y", []want{
			{"", "x", "data: x\n\n"}, {"", "y", "data: y"}}, io.EOF},
		{"empty stream", "", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"whole", "one byte at a time"} {
				var r io.Reader = strings.NewReader(tt.in)
				if name != "whole" {
					r = iotest.OneByteReader(r)
				}
				s := NewReader(r)
				for i, w := range tt.want {
					ev, err := s.Next()
					if err != nil {
						t.Fatalf("%s: event %d: %v", name, i, err)
					}
					if ev.Name != w.name || string(ev.Data) != w.data || string(ev.Raw) != w.raw {
						t.Errorf("%s: event %d = {%q %q %q}, want %+v", name, i, ev.Name, ev.Data, ev.Raw, w)
					}
				}
				if _, err := s.Next(); !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: end: %v, want %v", name, err, tt.wantErr)
				}
			}
		})
	}
}

func TestStreamLongLine(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	s := NewReader(strings.NewReader("data: " + long + "\n\n"))
	ev, err := s.Next()
	if err != nil || string(ev.Data) != long {
		t.Fatalf("long line: err %v, len %d", err, len(ev.Data))
	}
}

func TestStreamCutMidway(t *testing.T) {
	r := io.MultiReader(strings.NewReader("data: 1\n\ndata: {\"par"), iotest.ErrReader(io.ErrUnexpectedEOF))
	s := NewReader(r)
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut stream: %v", err)
	}
}

func BenchmarkStream(b *testing.B) {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}` + "\n\n"
	body := strings.Repeat(chunk, 100) + "data: [DONE]\n\n"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewReader(strings.NewReader(body))
		for {
			if _, err := s.Next(); err != nil {
				break
			}
		}
	}
}
