package providertest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultHeader is the request header that sets a [Fault] on that one request.
// Its syntax is in the package documentation and [ParseFault].
const FaultHeader = "X-Fake-Fault"

// Fault is a failure the provider plays on a request. Fields combine: latency
// comes first, then Drop, then Status; Malformed, CutAfter and ChunkDelay
// shape an otherwise normal answer. The zero Fault answers normally.
type Fault struct {
	// Status, if non-zero, answers with this HTTP status and an error body in
	// the wire format's shape.
	Status int
	// Message is the error message sent with Status; empty means a message
	// like the real provider's for that status.
	Message string
	// RetryAfter, if positive and sent with Status, sets Retry-After to the
	// whole seconds rounded up, and Retry-After-Ms when it is not a whole
	// number of seconds.
	RetryAfter time.Duration
	// Latency waits this long before answering. A cancelled request ends the
	// wait and is recorded as cancelled.
	Latency time.Duration
	// Malformed answers 200 with a body of broken JSON; a stream gets a chunk
	// of broken JSON, then [DONE].
	Malformed bool
	// CutAfter, if positive, sends that many stream chunks, flushes, and aborts
	// the connection without [DONE]. A non-streamed answer sends its headers
	// and half its body, then aborts.
	CutAfter int
	// ChunkDelay, if positive, waits this long before each stream chunk after
	// the first, in place of [WithChunkDelay].
	ChunkDelay time.Duration
	// Drop closes the connection before sending any response.
	Drop bool

	// Path, if not empty, limits an injected fault to requests for this path;
	// a /v1 prefix on either side is ignored. Not used in the header.
	Path string
	// Times is how many matching requests an injected fault applies to: 0
	// means 1, a negative number means every one until [Provider.Reset]. Not
	// used in the header.
	Times int
}

// ParseFault parses the value of the [FaultHeader] header: items separated by
// semicolons, each a key=value or a flag, such as
// "status=429; retry_after=2" or "latency=200ms; cut_after=3".
//
// Keys are status, retry_after (seconds or a Go duration), message (which
// cannot hold a semicolon), latency, malformed, cut_after, chunk_delay and
// drop. An unknown key or a bad value is an error.
func ParseFault(s string) (Fault, error) {
	var f Fault
	for item := range strings.SplitSeq(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, value, hasValue := strings.Cut(item, "=")
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		var err error
		switch key {
		case "status":
			f.Status, err = strconv.Atoi(value)
			if err == nil && (f.Status < 100 || f.Status > 999) {
				err = errors.New("not an http status")
			}
		case "retry_after":
			f.RetryAfter, err = parseSeconds(value)
		case "message":
			f.Message = value
		case "latency":
			f.Latency, err = parseDuration(value)
		case "chunk_delay":
			f.ChunkDelay, err = parseDuration(value)
		case "cut_after":
			f.CutAfter, err = strconv.Atoi(value)
			if err == nil && f.CutAfter < 1 {
				err = errors.New("must be at least 1")
			}
		case "malformed":
			f.Malformed, err = parseFlag(value, hasValue)
		case "drop":
			f.Drop, err = parseFlag(value, hasValue)
		default:
			return Fault{}, fmt.Errorf("providertest: unknown fault %q in %q (want status, retry_after, message, latency, malformed, cut_after, chunk_delay or drop)", key, s)
		}
		if err != nil {
			return Fault{}, fmt.Errorf("providertest: bad fault %q in %q: %w", item, s, err)
		}
	}
	return f, nil
}

// String formats f in the [FaultHeader] syntax, which [ParseFault] reads
// back. Path and Times are left out.
func (f Fault) String() string {
	var items []string
	if f.Status != 0 {
		items = append(items, "status="+strconv.Itoa(f.Status))
	}
	if f.RetryAfter > 0 {
		items = append(items, "retry_after="+f.RetryAfter.String())
	}
	if f.Message != "" {
		items = append(items, "message="+f.Message)
	}
	if f.Latency > 0 {
		items = append(items, "latency="+f.Latency.String())
	}
	if f.Malformed {
		items = append(items, "malformed")
	}
	if f.CutAfter > 0 {
		items = append(items, "cut_after="+strconv.Itoa(f.CutAfter))
	}
	if f.ChunkDelay > 0 {
		items = append(items, "chunk_delay="+f.ChunkDelay.String())
	}
	if f.Drop {
		items = append(items, "drop")
	}
	return strings.Join(items, "; ")
}

// matches reports whether an injected fault applies to a request for path.
func (f *Fault) matches(path string) bool {
	return f.Path == "" || stripV1(f.Path) == stripV1(path)
}

// retryAfterHeaders sets Retry-After, and Retry-After-Ms for a fraction of a
// second, on h.
func (f *Fault) retryAfterHeaders(h http.Header) {
	if f.RetryAfter <= 0 {
		return
	}
	secs := (f.RetryAfter + time.Second - 1) / time.Second
	h.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	if f.RetryAfter%time.Second != 0 {
		h.Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
	}
}

func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(n) * time.Second, nil
	}
	return parseDuration(s)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 200ms: %w", err)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

func parseFlag(value string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	return strconv.ParseBool(value)
}

// drop closes the connection without a response: hijacked where the server
// allows it, otherwise by aborting the handler.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// abort ends the response at once, without finishing it: the server closes
// the connection (or resets the HTTP/2 stream) and the client sees a
// truncated body.
func abort(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}
