package loadtest

import (
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestPoolReadsPercentilesFromTheMergedHistogram pools two slices whose
// own p99s are far from the pooled one: the pooled figures must be those
// of all the calls together, not an average of the slices'.
func TestPoolReadsPercentilesFromTheMergedHistogram(t *testing.T) {
	fast := Sample{Requests: 995, Seconds: 1, CPUPerReq: 10, Mean: 100, P99: 100, MaxRSSKB: 5,
		hist: []bin{{100, 995}}}
	slow := Sample{Requests: 5, Seconds: 1, CPUPerReq: 1000, Mean: 5000, P99: 5000, MaxRSSKB: 7, Errors: 1, FirstError: "read 1",
		hist: []bin{{5000, 5}}}
	s := pool([]Sample{fast, slow})
	if s.Requests != 1000 || s.Seconds != 2 || s.RPS != 500 || s.Errors != 1 || s.FirstError != "read 1" || s.MaxRSSKB != 7 {
		t.Fatalf("counts: %+v", s)
	}
	if math.Abs(s.CPUPerReq-14.95) > 1e-9 || math.Abs(s.Mean-124.5) > 1e-9 {
		t.Fatalf("CPU per call %v, mean %v: want 14.95 and 124.5 (weighted by calls)", s.CPUPerReq, s.Mean)
	}
	// 995 of 1000 calls took 100 µs: the 99th percentile is 100, the 99.9th 5000.
	if s.P50 != 100 || s.P99 != 100 || s.P999 != 5000 {
		t.Fatalf("p50 %v p99 %v p99.9 %v, want 100, 100, 5000", s.P50, s.P99, s.P999)
	}
}

// TestPoolAgreesWithOneRun checks that pooling slices of one distribution
// gives the percentiles of the whole, as wrk would read them.
func TestPoolAgreesWithOneRun(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	counts := map[int64]int64{}
	var parts []Sample
	for range 5 {
		c := map[int64]int64{}
		for range 2000 {
			us := int64(50 + r.ExpFloat64()*40)
			c[us]++
			counts[us]++
		}
		parts = append(parts, Sample{Requests: 2000, Seconds: 1, hist: bins(c)})
	}
	all := bins(counts)
	s := pool(parts)
	for _, p := range []struct {
		got  float64
		pct  float64
		name string
	}{{s.P50, 50, "p50"}, {s.P90, 90, "p90"}, {s.P99, 99, "p99"}, {s.P999, 99.9, "p99.9"}} {
		if want := binPercentile(all, p.pct); p.got != want {
			t.Errorf("%s %v, want %v", p.name, p.got, want)
		}
	}
	if s.P50 >= s.P90 || s.P90 >= s.P99 {
		t.Fatalf("percentiles out of order: %+v", s)
	}
}

func bins(c map[int64]int64) []bin {
	var out []bin
	for us, n := range c {
		out = append(out, bin{us, n})
	}
	slices.SortFunc(out, func(a, b bin) int { return int(a.us - b.us) })
	return out
}

func TestCutIntoWholeSeconds(t *testing.T) {
	for _, tt := range []struct {
		d     time.Duration
		n     int
		wantN int
		wantD time.Duration
	}{
		{8 * time.Second, 8, 8, time.Second},
		{8 * time.Second, 3, 3, 2 * time.Second},
		{2 * time.Second, 8, 2, time.Second},
		{1500 * time.Millisecond, 4, 2, time.Second},
		{8 * time.Second, 0, 1, 8 * time.Second},
	} {
		n, d := cut(tt.d, tt.n)
		if n != tt.wantN || d != tt.wantD {
			t.Errorf("cut(%v, %d) = %d × %v, want %d × %v", tt.d, tt.n, n, d, tt.wantN, tt.wantD)
		}
	}
}

// TestWrkHistogramMatchesItsPercentiles runs the real wrk with the
// harness's script: the histogram it prints must give back wrk's own
// percentiles, or pooled slices would not read like one run.
func TestWrkHistogramMatchesItsPercentiles(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (make loadtest installs it)")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	s, err := wrkRun{URL: srv.URL, Threads: 1, Conns: 2, Duration: time.Second, MaxRequests: 20_000, Dir: t.TempDir(), Body: Body}.run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, b := range s.hist {
		n += b.n
	}
	if n < 100 {
		t.Fatalf("histogram of %d calls (%d requests)", n, s.Requests)
	}
	for _, p := range []struct{ got, pct float64 }{{s.P50, 50}, {s.P90, 90}, {s.P99, 99}, {s.P999, 99.9}} {
		if want := binPercentile(s.hist, p.pct); p.got != want {
			t.Errorf("wrk's p%v is %v µs, its histogram's %v", p.pct, p.got, want)
		}
	}
}

// TestWarmCallsAndStopsAtAFailure checks the untimed calls before a slice:
// n of them, with wrk's headers, and none after the first failure.
func TestWarmCallsAndStopsAtAFailure(t *testing.T) {
	var calls, failAt int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("X-Tollgate-Customer") != "acme" || r.Method != http.MethodPost {
			http.Error(w, "not the load's call", 400)
			return
		}
		if calls == failAt {
			http.Error(w, "down", 503)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	warm(t.Context(), srv.Client(), srv.URL, 7)
	if calls != 7 {
		t.Fatalf("%d calls, want 7", calls)
	}
	calls, failAt = 0, 3
	warm(t.Context(), srv.Client(), srv.URL, 7)
	if calls != 3 {
		t.Fatalf("%d calls with the third failing, want 3", calls)
	}
}
