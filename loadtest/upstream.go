package loadtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// ChunkDelayHeader paces a canned stream: the upstream waits this long (a Go
// duration) before each event after the first. A gateway forwards it like
// any unknown header.
const ChunkDelayHeader = "X-Load-Chunk-Delay"

// Body is the request every load run sends: a typical ~1 KB chat request,
// the same as the in-process benchmarks use.
var Body = `{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"` +
	strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`

// StreamBody is Body asking for a stream with usage.
var StreamBody = strings.Replace(Body, `"temperature"`, `"stream":true,"stream_options":{"include_usage":true},"temperature"`, 1)

// Canned is a lean fake OpenAI upstream: its answers are computed once by
// providertest, so a request costs only reading the body and writing
// precomputed bytes, and the harness measures the proxies rather than the
// fake's JSON work. A request whose body says "stream":true gets the
// canned event stream, each event flushed; anything else gets the canned
// chat.completion. Safe for concurrent use.
type Canned struct {
	body   []byte   // the chat.completion
	events [][]byte // the stream, one SSE event (with its blank line) each
	length []string // Content-Length of body, preformatted
}

// NewCanned computes the answers from providertest once.
func NewCanned() *Canned {
	up := providertest.NewHandler(providertest.WithRecordLimit(0))
	get := func(body string) []byte {
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			panic("loadtest: providertest answered " + strconv.Itoa(rec.Code) + ": " + rec.Body.String())
		}
		return rec.Body.Bytes()
	}
	c := &Canned{body: get(Body)}
	c.length = []string{strconv.Itoa(len(c.body))}
	for _, ev := range bytes.SplitAfter(get(StreamBody), []byte("\n\n")) {
		if len(bytes.TrimSpace(ev)) > 0 {
			c.events = append(c.events, ev)
		}
	}
	return c
}

// Events returns the number of events in the canned stream.
func (c *Canned) Events() int { return len(c.events) }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

var (
	jsonType = []string{"application/json"}
	sseType  = []string{"text/event-stream"}
	noCache  = []string{"no-cache"}
)

// ServeHTTP answers from the precomputed bytes.
func (c *Canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusOK) // health checks
		return
	}
	bp := bufPool.Get().(*[]byte)
	buf := bytes.NewBuffer((*bp)[:0])
	buf.ReadFrom(r.Body)
	stream := bytes.Contains(buf.Bytes(), []byte(`"stream":true`))
	*bp = buf.Bytes()
	bufPool.Put(bp)
	h := w.Header()
	if !stream {
		h["Content-Type"] = jsonType
		h["Content-Length"] = c.length
		w.Write(c.body)
		return
	}
	var delay time.Duration
	if v := r.Header.Get(ChunkDelayHeader); v != "" {
		delay, _ = time.ParseDuration(v)
	}
	h["Content-Type"] = sseType
	h["Cache-Control"] = noCache
	f, _ := w.(http.Flusher)
	var t *time.Timer
	for i, ev := range c.events {
		if i > 0 && delay > 0 {
			if t == nil {
				t = time.NewTimer(delay)
			} else {
				t.Reset(delay)
			}
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if _, err := w.Write(ev); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
	}
}

// discardBody drains and closes a response body so its connection is reused.
func discardBody(rc io.ReadCloser) {
	io.Copy(io.Discard, rc)
	rc.Close()
}

var _ http.Handler = (*Canned)(nil)
