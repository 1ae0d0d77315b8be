package sse

import (
	"errors"
	"fmt"
	"io"
	"runtime"
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
		slow    []want // read one byte at a time, if that gives other events
		wantErr error
	}{
		{"data events", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []want{
			{"", `{"a":1}`, "data: {\"a\":1}\n\n"}, {"", "[DONE]", "data: [DONE]\n\n"}}, nil, io.EOF},
		{"named events, CRLF", "event: message_start\r\ndata: {}\r\n\r\n", []want{
			{"message_start", "{}", "event: message_start\r\ndata: {}\r\n\r\n"}}, nil, io.EOF},
		{"multi-line data joined", "data: a\ndata: b\ndata:c\n\n", []want{{"", "a\nb\nc", "data: a\ndata: b\ndata:c\n\n"}}, nil, io.EOF},
		{"comments and blank lines read with the next event travel with it", ": ping\n\n\ndata: x\n\n",
			[]want{{"", "x", ": ping\n\n\ndata: x\n\n"}},
			[]want{{"", "", ": ping\n"}, {"", "", "\n"}, {"", "", "\n"}, {"", "x", "data: x\n\n"}}, io.EOF},
		{"a comment inside an event stays in it", "data: a\n: note\ndata: b\n\n", []want{
			{"", "a\nb", "data: a\n: note\ndata: b\n\n"}}, nil, io.EOF},
		{"comments after the last event are delivered", "data: x\n\n: bye\n\n", []want{
			{"", "x", "data: x\n\n"}, {"", "", ": bye\n\n"}},
			[]want{{"", "x", "data: x\n\n"}, {"", "", ": bye\n"}, {"", "", "\n"}}, io.EOF},
		{"last event without blank line is delivered", "data: x\n\ndata: y", []want{
			{"", "x", "data: x\n\n"}, {"", "y", "data: y"}}, nil, io.EOF},
		{"empty stream", "", nil, nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"whole", "one byte at a time"} {
				var r io.Reader = strings.NewReader(tt.in)
				want := tt.want
				if name != "whole" {
					r = iotest.OneByteReader(r)
					if tt.slow != nil {
						want = tt.slow
					}
				}
				s := NewReader(r)
				for i, w := range want {
					ev, err := s.Next()
					if err != nil {
						t.Fatalf("%s: event %d: %v", name, i, err)
					}
					if ev.Name != w.name || string(ev.Data) != w.data || string(ev.Raw) != w.raw {
						t.Errorf("%s: event %d = {%q %q %q}, want %+v", name, i, ev.Name, ev.Data, ev.Raw, w)
					}
					if w.data == "" && w.name == "" && ev.Data != nil {
						t.Errorf("%s: event %d: comments only, but Data is %q, not nil", name, i, ev.Data)
					}
				}
				if _, err := s.Next(); !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: end: %v, want %v", name, err, tt.wantErr)
				}
			}
		})
	}
}

// stepReader gives the test's chunks, one per Read, and fails a Read when it
// has none: a decoder that waits for more bytes sees errWouldWait.
type stepReader struct{ chunks []string }

var errWouldWait = errors.New("the decoder read on, waiting for bytes the upstream had not sent")

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, errWouldWait
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestStreamKeepAliveGoesOutAtOnce checks that comments before an event are
// returned as soon as they are read, without waiting for the next event: an
// upstream's keep-alives must reach the client while the model thinks.
func TestStreamKeepAliveGoesOutAtOnce(t *testing.T) {
	steps := []struct{ send, want string }{
		{": ping 1\n\n", ": ping 1\n\n"},
		{":\n", ":\n"},
		{"\n", "\n"},
		{": ping 2\n\ndata: {\"par", ": ping 2\n\n"}, // an event begun: the comment still goes
		{"t\":1}\n\n", "data: {\"part\":1}\n\n"},
		{"data: x\n: inside\n\n", "data: x\n: inside\n\n"},
	}
	r := &stepReader{}
	s := NewReader(r)
	for _, st := range steps {
		r.chunks = append(r.chunks, st.send)
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("after %q: %v", st.send, err)
		}
		if string(ev.Raw) != st.want {
			t.Errorf("after %q: event %q, want %q", st.send, ev.Raw, st.want)
		}
	}
}

// endless gives a line that never ends, counting what it gave; it stops
// at limit bytes so that a decoder without a bound fails instead of
// filling the memory.
type endless struct{ n, limit int64 }

func (r *endless) Read(p []byte) (int, error) {
	if r.n == 0 {
		return copy(p, `data: {"x":"`), nil
	}
	if r.n >= r.limit {
		return 0, io.EOF
	}
	n := copy(p, xs)
	r.n += int64(n)
	return n, nil
}

var xs = strings.Repeat("x", 64<<10)

// TestStreamEventTooLarge checks that a line without end fails after about
// the limit, in bounded memory: what was read, what was allocated, and what
// the stream still holds afterwards.
func TestStreamEventTooLarge(t *testing.T) {
	const max = 1 << 20
	r := &endless{limit: 64 * max}
	s := NewReader(r, MaxEventBytes(max))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := s.Next()
	runtime.ReadMemStats(&after)
	want := fmt.Sprintf("an event of the upstream's stream is over %d bytes: ", max)
	if !errors.Is(err, ErrEventTooLarge) || !strings.HasPrefix(fmt.Sprint(err), want) {
		t.Fatalf("err %v, want one that begins %q", err, want)
	}
	if r.n > max+64<<10 {
		t.Errorf("read %d bytes of an event over the limit of %d, want about the limit", r.n, max)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 3*max {
		t.Errorf("allocated %d bytes reading an event over %d, want at most 3x the limit", grew, max)
	}
	if s.raw != nil {
		t.Errorf("the stream holds %d bytes after failing, want none", cap(s.raw))
	}
	if _, again := s.Next(); again != err {
		t.Errorf("Next after the failure: %v, want the same error", again)
	}
}

// TestStreamEventLimitIsExact checks the limit on whole events: comments
// and blank lines count, an event of exactly the limit passes, one byte more
// fails, and an event of many short lines is held to it too.
func TestStreamEventLimitIsExact(t *testing.T) {
	event := "event: e\n: note\ndata: 12345\n\n"
	many := strings.Repeat("data: 0123456789\n", 100) + "\n"
	tests := []struct {
		name    string
		in      string
		max     int64
		wantErr bool
	}{
		{"exactly the limit", event, int64(len(event)), false},
		{"one byte over", event, int64(len(event)) - 1, true},
		{"many lines over", many, int64(len(many)) - 1, true},
		{"many lines within", many, int64(len(many)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := NewReader(strings.NewReader(tt.in), MaxEventBytes(tt.max)).Next()
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrEventTooLarge)) {
				t.Fatalf("err %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil && string(ev.Raw) != tt.in {
				t.Errorf("raw %q, want %q", ev.Raw, tt.in)
			}
		})
	}
}

func TestMaxEventBytes(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want int64
	}{
		{"no option: the default", nil, DefaultMaxEventBytes},
		{"a limit", []Option{MaxEventBytes(4096)}, 4096},
		{"0 keeps the default", []Option{MaxEventBytes(0)}, DefaultMaxEventBytes},
		{"negative keeps the default", []Option{MaxEventBytes(-1)}, DefaultMaxEventBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := NewReader(strings.NewReader(""), tt.opts...); s.max != tt.want {
				t.Errorf("limit %d, want %d", s.max, tt.want)
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
