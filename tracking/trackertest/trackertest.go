// Package trackertest is a fake usage tracker for tests: an HTTP endpoint
// that takes the http sink's batches, keeps every event by id (so duplicates
// from at-least-once delivery are visible and suppressed), and answers with
// whatever status a test scripts — down, flapping, refusing.
package trackertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// Server is a fake tracker. Its zero answer is 200; Script changes it.
type Server struct {
	*httptest.Server
	// Token, if set, is the bearer token the tracker requires (401 otherwise).
	Token string

	mu       sync.Mutex
	script   func(post int) int
	refused  map[string]int // event id -> the status its batches get
	posts    int
	received int
	byID     map[string]core.UsageEvent
	order    []string
	batches  []int
	changed  chan struct{}
}

// NewServer starts a tracker closed when the test ends. Events POSTed to
// any path are recorded.
func NewServer(t testing.TB) *Server {
	s := &Server{byID: map[string]core.UsageEvent{}, changed: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL of the events endpoint.
func (s *Server) EventsURL() string { return s.Server.URL + "/events" }

// Script sets the status for each POST, numbered from 1 since the call: a
// 2xx stores the batch; 0 stores the batch and then answers 500 (as if the
// answer were lost), which makes the sender send it again. nil means 200.
func (s *Server) Script(f func(post int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script, s.posts = f, 0
}

// Refuse makes the tracker answer 400 to any batch holding an event with
// one of ids, storing none of its events, as a tracker does with an event
// it will never take (a malformed one, say).
func (s *Server) Refuse(ids ...string) { s.FailOn(http.StatusBadRequest, ids...) }

// FailOn makes the tracker answer status to any batch holding an event
// with one of ids, storing none of its events: with a 5xx, a tracker that
// breaks on an event it cannot handle.
func (s *Server) FailOn(status int, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]int{}
	}
	for _, id := range ids {
		s.refused[id] = status
	}
}

// Down makes every POST answer status; Up makes them succeed.
func (s *Server) Down(status int) { s.Script(func(int) int { return status }) }

// Up makes every POST succeed.
func (s *Server) Up() { s.Script(nil) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.posts++
	status := http.StatusOK
	if s.script != nil {
		status = s.script(s.posts)
	}
	if status >= 300 && status != 0 {
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		http.Error(w, `{"error":"scripted failure"}`, status)
		return
	}
	var batch struct {
		Events []core.UsageEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		s.mu.Unlock()
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	for _, ev := range batch.Events {
		if status := s.refused[ev.ID]; status != 0 {
			s.mu.Unlock()
			http.Error(w, `{"error":"refused event `+ev.ID+`"}`, status)
			return
		}
	}
	s.batches = append(s.batches, len(batch.Events))
	for _, ev := range batch.Events {
		s.received++
		if _, dup := s.byID[ev.ID]; !dup {
			s.byID[ev.ID] = ev
			s.order = append(s.order, ev.ID)
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if status == 0 {
		http.Error(w, "lost answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"accepted":` + strings.TrimSpace(jsonInt(len(batch.Events))) + `}`))
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// Posts is how many POSTs arrived since the last Script, Down or Up,
// refused ones included.
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// Distinct is how many distinct event ids arrived.
func (s *Server) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Received is how many events arrived, duplicates included.
func (s *Server) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// Events returns one event per distinct id, in arrival order.
func (s *Server) Events() []core.UsageEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]core.UsageEvent, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.byID[id])
	}
	return out
}

// Has reports whether an event with id arrived.
func (s *Server) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[id]
	return ok
}

// Batches lists the size of each stored batch.
func (s *Server) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// WaitDistinct waits until n distinct events arrived or timeout passes,
// and reports whether they did.
func (s *Server) WaitDistinct(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.byID), s.changed
		s.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}
