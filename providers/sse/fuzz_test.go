package sse_test

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/tollgate-dev/tollgate/providers/sse"
)

// FuzzDecoder checks the decoder on arbitrary bytes, read whole and one
// byte at a time: it never panics, both reads give the same events, and the
// events' raw bytes are exactly what was read (the client gets what the
// provider sent), in order. The seed corpus is in testdata/fuzz/FuzzDecoder.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: message_start\r\ndata: {}\r\n\r\n: comment\n\nid: 7\nretry: 10\ndata: x\ndata: y\n\n"))
	f.Add([]byte("data: cut in the mid"))
	f.Add([]byte("\n\n\ndata:no-space\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, wholeErr := decode(sse.NewReader(bytes.NewReader(in)))
		slow, slowErr := decode(sse.NewReader(iotest.OneByteReader(bytes.NewReader(in))))
		if !bytes.Equal(whole, slow) || (wholeErr == nil) != (slowErr == nil) {
			t.Fatalf("whole and byte-by-byte reads differ:\n%q %v\n%q %v", whole, wholeErr, slow, slowErr)
		}
		if !bytes.HasPrefix(in, whole) {
			t.Fatalf("the events' raw bytes are not what was read:\nin  %q\nraw %q", in, whole)
		}
	})
}

// decode reads every event and returns their raw bytes, joined, and the
// error that ended the stream (nil for io.EOF).
func decode(s *sse.Stream) ([]byte, error) {
	var raw []byte
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return raw, nil
		}
		if err != nil {
			return raw, err
		}
		raw = append(raw, ev.Raw...)
	}
}
