package h1head

import "io"

// ReadFixed reads into p at most left (> 0) bytes of a Content-Length
// body from r, as net/http's body reader does: io.EOF comes with the last
// bytes, and io.ErrUnexpectedEOF when r ends before them.
func ReadFixed(r io.Reader, p []byte, left int64) (int, error) {
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.Read(p)
	switch {
	case err == io.EOF && int64(n) < left:
		err = io.ErrUnexpectedEOF
	case err == nil && int64(n) == left:
		err = io.EOF
	}
	return n, err
}
