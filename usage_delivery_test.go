package tollgate_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking/trackertest"
)

// Embedded, the same durable delivery runs: events go to an http tracker
// with a bearer token from the config's environment, priced, and
// engine.Close flushes them.
func TestLibraryDeliversToATrackerAndCloseFlushes(t *testing.T) {
	tr := trackertest.NewServer(t)
	g := newGateway(t, `
pipeline:
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - {type: http, url: `+tr.EventsURL()+`, token_env: TEST_OPENAI_KEY, batch: {max_events: 50, max_age: 1h}}
`)
	tr.Token = testKey // TEST_OPENAI_KEY doubles as the tracker token here
	h := g.eng.Handler()
	ids := map[string]bool{}
	for range 5 {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bill me"}]}`))
		req = req.WithContext(core.WithCustomer(context.Background(), "acme"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		io.Copy(io.Discard, rec.Body)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		ids[rec.Header().Get("X-Tollgate-Id")] = true
	}
	if tr.Distinct() != 0 {
		t.Fatalf("max_age 1h should hold the batch until Close; tracker has %d", tr.Distinct())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	g.closed = true
	if tr.Distinct() != 5 {
		t.Fatalf("after Close the tracker has %d of 5 events", tr.Distinct())
	}
	for _, ev := range tr.Events() {
		if !ids[ev.ID] || ev.CustomerID != "acme" || ev.Cost == nil || ev.Cost.String() == "0" {
			t.Errorf("event %+v", ev)
		}
	}
}
