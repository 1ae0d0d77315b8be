package providertest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
)

func TestRequestsRecorded(t *testing.T) {
	srv := NewServer(t)
	post(t, srv, "POST", "/v1/chat/completions?trace=1", chatBody, "Authorization", "Bearer "+testKey, "X-Custom", "yes")
	post(t, srv, "GET", "/v1/models", "")
	post(t, srv, "DELETE", "/nowhere", "")

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/chat/completions" || r.RawQuery != "trace=1" || string(r.Body) != chatBody {
		t.Errorf("first request %s %s ? %s body %s", r.Method, r.Path, r.RawQuery, r.Body)
	}
	if r.Header.Get("Authorization") != "Bearer "+testKey || r.Header.Get("X-Custom") != "yes" || r.Cancelled {
		t.Errorf("first request header %v cancelled %v", r.Header, r.Cancelled)
	}
	if reqs[1].Path != "/v1/models" || reqs[2].Path != "/nowhere" {
		t.Errorf("paths %q, %q", reqs[1].Path, reqs[2].Path)
	}

	// Requests returns copies.
	reqs[0].Body[0] = 'X'
	reqs[0].Header.Set("X-Custom", "changed")
	if again := srv.Requests()[0]; again.Body[0] != '{' || again.Header.Get("X-Custom") != "yes" {
		t.Error("changing a returned request changed the record")
	}

	srv.Reset()
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("after Reset: %d requests, want 0", n)
	}
}

func TestRecordLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		sent  int
		want  []string // the queries kept
	}{
		{name: "none", limit: 0, sent: 3, want: nil},
		{name: "under", limit: 5, sent: 3, want: []string{"0", "1", "2"}},
		{name: "over", limit: 2, sent: 7, want: []string{"5", "6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewHandler(WithRecordLimit(tt.limit))
			for i := range tt.sent {
				req := httptest.NewRequest("GET", "/v1/models?"+strconv.Itoa(i), nil)
				p.ServeHTTP(discard{}, req)
			}
			var got []string
			for _, r := range p.Requests() {
				got = append(got, r.RawQuery)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
		})
	}
}

// discard is a ResponseWriter that drops what is written.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
