package h1server

import (
	"bufio"
	"bytes"
)

// sentHost reports whether the head at the front of br has a Host line,
// empty or not. It is for the heads left to http.ReadRequest, which drops
// the line, so that an empty Host (RFC 9112 section 3.2) is not taken for
// a missing one there either. It reads no further than ReadRequest is
// about to; a head that does not fit in br's buffer, or that does not
// arrive, reports false (a missing Host, as before).
//
// It scans lines itself rather than with h1head: the heads that come here
// include those h1head refuses (bare LF line ends, folded lines), which
// ReadRequest takes; the differential tests have both.
func sentHost(br *bufio.Reader) bool {
	for n := br.Buffered(); ; n = br.Buffered() + 1 {
		head, err := br.Peek(n)
		if sent, whole := scanHost(head); whole {
			return sent
		}
		if err != nil || n >= br.Size() {
			return false
		}
	}
}

// scanHost looks through a head's header lines for a Host line; whole
// says the blank line that ends the head was found.
func scanHost(head []byte) (sent, whole bool) {
	_, rest, ok := bytes.Cut(head, []byte("\n")) // the request line
	for ok {
		var line []byte
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			break // an unfinished line
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return sent, true
		}
		if len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")) {
			sent = true
		}
	}
	return false, false
}
