package tracking_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking"
)

// receiver is a destination that records each POST body and answers
// with status(n) for the n-th post (1-based; nil: 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	posts  atomic.Int64
	status atomic.Pointer[func(int) int]
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.posts.Add(1))
		body, _ := io.ReadAll(req.Body)
		code := http.StatusOK
		if f := r.status.Load(); f != nil {
			code = (*f)(n)
		}
		if code == http.StatusOK {
			r.mu.Lock()
			r.bodies = append(r.bodies, string(body))
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) script(f func(int) int) {
	if f == nil {
		r.status.Store(nil)
		return
	}
	r.status.Store(&f)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func newDeliverer(t *testing.T, dir string) *tracking.Deliverer {
	t.Helper()
	d := tracking.NewDeliverer(dir, tracking.DelivererConfig{Log: quiet, Retry: fastRetry})
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func sinkStats(t *testing.T, dir, prefix string) tracking.SinkStats {
	t.Helper()
	db := open(t, dir)
	for _, s := range db.Stats().Sinks {
		if strings.HasPrefix(s.Name, prefix) {
			return s
		}
	}
	t.Fatalf("no sink named %s… in %+v", prefix, db.Stats().Sinks)
	return tracking.SinkStats{}
}

// TestDelivererPostsEachPayloadThroughFailures: payloads handed over
// concurrently reach a URL that fails at first, each as its own body,
// byte for byte.
func TestDelivererPostsEachPayloadThroughFailures(t *testing.T) {
	rcv := newReceiver(t)
	rcv.script(func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	dir := t.TempDir()
	d := newDeliverer(t, dir)
	var want []string
	var wg sync.WaitGroup
	for i := range 8 {
		payload := fmt.Sprintf(`{"vendor_event": %d, "text": "line\nbreak"}`, i)
		want = append(want, payload)
		wg.Go(func() {
			if err := d.Deliver(context.Background(), rcv.URL+"/ingest", []byte(payload)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return len(rcv.got()) == len(want) })
	got := rcv.got()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("received %q\nwant %q", got, want)
	}
	st := sinkStats(t, dir, "deliver:127.0.0.1")
	waitFor(t, func() bool { return sinkStats(t, dir, "deliver:127.0.0.1").Queued == 0 })
	if st.Stage != tracking.DeliverStage {
		t.Fatalf("queue listed under stage %q; want %q", st.Stage, tracking.DeliverStage)
	}
}

// TestDelivererResumesAfterRestart: what a URL did not take before the
// Deliverer closed is delivered by the next one, from disk.
func TestDelivererResumesAfterRestart(t *testing.T) {
	rcv, dir := queueThree(t)
	rcv.script(nil)
	resumeAll(t, dir, rcv)
}

// queueThree has a Deliverer take three payloads for a receiver that fails
// them all, and closes it: the payloads stay queued in the returned dir.
func queueThree(t *testing.T) (*receiver, string) {
	t.Helper()
	rcv := newReceiver(t)
	rcv.script(func(int) int { return http.StatusBadGateway })
	dir := t.TempDir()
	d := tracking.NewDeliverer(dir, tracking.DelivererConfig{Log: quiet, Retry: fastRetry})
	for i := range 3 {
		if err := d.Deliver(context.Background(), rcv.URL, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	d.Close(ctx)
	if got := rcv.got(); len(got) != 0 {
		t.Fatalf("delivered %q while the receiver failed", got)
	}
	return rcv, dir
}

// resumeAll starts a Deliverer on dir and checks it delivers the three
// payloads queued for rcv, in order.
func resumeAll(t *testing.T, dir string, rcv *receiver) {
	t.Helper()
	again := newDeliverer(t, dir)
	if err := again.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(rcv.got()) == 3 })
	if got := rcv.got(); !slices.Equal(got, []string{`{"n":0}`, `{"n":1}`, `{"n":2}`}) {
		t.Fatalf("after the restart received %q; want the three payloads in order", got)
	}
}

// TestDelivererResumesAfterRecover: `tollgate usage recover` keeps which
// URL each queue is for, so its payloads are still delivered.
func TestDelivererResumesAfterRecover(t *testing.T) {
	rcv, dir := queueThree(t)
	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied["meta"] == 0 || len(rep.Problems) != 0 {
		t.Fatalf("recover report %+v; want the meta bucket copied", rep)
	}
	rcv.script(nil)
	resumeAll(t, dir, rcv)
}

// TestDelivererRefusedPayloadIsDeadLettered: a 4xx other than 408/429
// will not change on retry: the payload moves to dead letters at once.
func TestDelivererRefusedPayloadIsDeadLettered(t *testing.T) {
	rcv := newReceiver(t)
	rcv.script(func(int) int { return http.StatusBadRequest })
	dir := t.TempDir()
	d := newDeliverer(t, dir)
	if err := d.Deliver(context.Background(), rcv.URL, []byte(`{"bad":true}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return sinkStats(t, dir, "deliver:").DeadLetters == 1 })
	if n := rcv.posts.Load(); n != 1 {
		t.Fatalf("%d posts of a refused payload; want 1", n)
	}
}

// recordSink records what it is given as JSON.
type recordSink struct {
	mu     sync.Mutex
	got    []string
	events int
}

func (r *recordSink) WriteJSON(_ context.Context, batch [][]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range batch {
		r.got = append(r.got, string(b))
	}
	return nil
}

func (r *recordSink) Write(_ context.Context, evs []*core.UsageEvent) error { return nil }
func (r *recordSink) Close() error                                          { return nil }

func (r *recordSink) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestDelivererToANamedSink: "sink:NAME" reaches that sink alone, compacted
// to one line; a PayloadsOnly sink gets no usage events.
func TestDelivererToANamedSink(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	audit, usage := &recordSink{}, &recordSink{}
	ob := newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{
		{Name: "audit", Sink: audit, PayloadsOnly: true}, {Name: "usage", Sink: usage}}})
	d := newDeliverer(t, dir)
	enqueue(ob, 2)
	if err := d.Deliver(context.Background(), "sink:audit", []byte("{\n  \"decision_id\": \"d1\",\n  \"denied\": true\n}")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(audit.lines()) == 1 && len(usage.lines()) == 2 })
	if got := audit.lines()[0]; got != `{"decision_id":"d1","denied":true}` {
		t.Fatalf("audit sink got %s", got)
	}
	time.Sleep(20 * time.Millisecond)
	for _, l := range usage.lines() {
		if strings.Contains(l, "decision_id") {
			t.Fatalf("the usage sink got the payload: %s", l)
		}
	}
}

func TestDelivererErrors(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	newOutbox(t, db, tracking.Config{Sinks: []tracking.SinkConfig{{Name: "audit", Sink: &recordSink{}}, {Name: "events-only", Sink: discard}}})
	d := tracking.NewDeliverer(dir, tracking.DelivererConfig{Log: quiet, MaxDestinations: 1})
	defer d.Close(context.Background())
	rcv := newReceiver(t)
	if err := d.Deliver(context.Background(), rcv.URL+"/a", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dest, payload, want string }{
		{"sink:nowhere", `{}`, `no track stage has a sink named "nowhere"`},
		{"sink:audit", `{"open": `, "not one JSON value"},
		{"sink:events-only", `{}`, "takes usage events only"},
		{"ftp://host/x", `{}`, "want \"sink:NAME\" or an absolute http(s) URL"},
		{"/relative", `{}`, "absolute http(s) URL"},
		{rcv.URL + "/b", `{}`, "already delivering to 1 URLs"},
	}
	for _, c := range cases {
		err := d.Deliver(context.Background(), c.dest, []byte(c.payload))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Deliver(%q, %q) = %v; want an error containing %q", c.dest, c.payload, err, c.want)
		}
	}
	d.Close(context.Background())
	if err := d.Deliver(context.Background(), "sink:audit", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Deliver after Close = %v; want an error saying it is closed", err)
	}
}
