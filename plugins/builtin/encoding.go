package builtin

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The call stage asks every upstream for its answer uncompressed, and reads
// one that comes compressed anyway (docs/configuration.md, "Compressed
// answers"): usage is read from the answer's text and the stages and the
// client get that text, so the gateway decodes it once, here.
//
// Why not ask for gzip: an LLM answer is a few kilobytes that take seconds
// to generate, so compression saves the upstream link little, while a
// gzip decoder costs the gateway a 40 KB allocation and CPU on every call,
// and a server compressing a stream may hold events back in its
// compressor until it flushes.

// identity is the Accept-Encoding every upstream request carries, shared
// and capped like jsonContentType.
var identity = []string{"identity"}[:1:1]

// decodeAnswer makes resp's body its decoded text when its Content-Encoding
// is gzip or deflate, and takes the coding's headers off: the length and
// coding of the bytes the upstream sent no longer describe the body. It
// returns an error naming the coding when the gateway does not decode it
// (br, zstd, a chain of codings).
func decodeAnswer(resp *http.Response) error {
	codings, ok := resp.Header["Content-Encoding"]
	if !ok {
		return nil
	}
	coding := strings.ToLower(strings.TrimSpace(strings.Join(codings, ",")))
	switch coding {
	case "", "identity":
	case "gzip", "x-gzip", "deflate":
		if resp.Body != http.NoBody {
			resp.Body = &decodedBody{body: resp.Body, coding: coding}
		}
	default:
		return fmt.Errorf("Content-Encoding %q, which the gateway does not decode (it asks upstreams for identity; it decodes gzip and deflate)", clipCoding(strings.Join(codings, ", ")))
	}
	delete(resp.Header, "Content-Encoding")
	delete(resp.Header, "Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return nil
}

// decodedBody reads an answer body through its coding's decoder, made on
// the first Read: a stream's first bytes are awaited by whoever reads the
// events, not by the call.
type decodedBody struct {
	body   io.ReadCloser
	coding string
	zr     io.Reader
	err    error // the decoder's, once it failed
}

func (d *decodedBody) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.zr == nil {
		var err error
		switch d.coding {
		case "deflate":
			d.zr, err = zlib.NewReader(d.body)
		default:
			d.zr, err = gzip.NewReader(d.body)
		}
		if err != nil {
			d.err = d.decodeError(err)
			return 0, d.err
		}
	}
	n, err := d.zr.Read(p)
	if err != nil && err != io.EOF {
		d.err = d.decodeError(err)
		err = d.err
	}
	return n, err
}

// decodeError names the coding in an error of the decoder's own (bytes
// that are not what the coding says); an error of the body beneath, such
// as a connection cut, is returned as it is.
func (d *decodedBody) decodeError(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, zlib.ErrHeader) ||
		errors.Is(err, zlib.ErrChecksum) || errors.Is(err, zlib.ErrDictionary) || errors.As(err, &corrupt) {
		return fmt.Errorf("the answer is not valid %s, as its Content-Encoding says: %w", d.coding, err)
	}
	return err
}

func (d *decodedBody) Close() error { return d.body.Close() }

// clipCoding bounds a Content-Encoding quoted in an error.
func clipCoding(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
