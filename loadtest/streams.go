package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// streamRun is a batch of streamed chat calls: N in all, Concurrency at
// once, each stream paced by ChunkDelay at the upstream. It stops at N
// streams or MaxDuration, whichever comes first.
type streamRun struct {
	URL         string
	N           int
	Concurrency int
	ChunkDelay  time.Duration
	Ramp        time.Duration // spread the first Concurrency starts over this
	MaxDuration time.Duration
}

// newStreamClient returns a client that keeps a connection per concurrent
// stream.
func newStreamClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

// run performs the streams and returns their figures. onPeak, if set, is
// called once when every one of the first Concurrency streams has its
// first byte.
func (s streamRun) run(ctx context.Context, client *http.Client) StreamRun {
	ctx, cancel := context.WithTimeout(ctx, s.MaxDuration)
	defer cancel()
	var (
		mu       sync.Mutex
		ttfb     []float64
		firstErr string
		ok, errs int
		open     atomic.Int64
		peak     atomic.Int64
		next     atomic.Int64
	)
	conc := max(1, min(s.Concurrency, s.N))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Ramp > 0 && conc > 1 {
				select {
				case <-time.After(s.Ramp * time.Duration(w) / time.Duration(conc)):
				case <-ctx.Done():
					return
				}
			}
			for next.Add(1) <= int64(s.N) && ctx.Err() == nil {
				d, err := s.one(ctx, client, &open, &peak)
				mu.Lock()
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					ok++
					ttfb = append(ttfb, float64(d.Microseconds()))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Float64s(ttfb)
	return StreamRun{
		Streams: ok + errs, Concurrency: conc, OK: ok, Errors: errs, PeakOpen: int(peak.Load()),
		Seconds: time.Since(start).Seconds(),
		TTFBP50: percentile(ttfb, 50), TTFBP90: percentile(ttfb, 90), TTFBP99: percentile(ttfb, 99),
		FirstError: firstErr,
	}
}

// one performs one streamed call and returns its time to the first byte of
// the body (the first event). It reads the stream to its end and checks
// for [DONE].
func (s streamRun) one(ctx context.Context, client *http.Client, open, peak *atomic.Int64) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader(StreamBody))
	if err != nil {
		return 0, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{"Bearer sk-load"}
	req.Header["Accept"] = []string{"text/event-stream"}
	req.Header["X-Tollgate-Customer"] = []string{"acme"}
	if s.ChunkDelay > 0 {
		req.Header[ChunkDelayHeader] = []string{s.ChunkDelay.String()}
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	n := open.Add(1)
	defer open.Add(-1)
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			break
		}
	}
	buf := make([]byte, 4<<10)
	k, err := resp.Body.Read(buf)
	for k == 0 && err == nil {
		k, err = resp.Body.Read(buf)
	}
	ttfb := time.Since(t0)
	if k == 0 {
		return 0, fmt.Errorf("no first event: %v", err)
	}
	tail := append([]byte(nil), buf[:k]...)
	for err == nil {
		k, err = resp.Body.Read(buf)
		tail = append(tail, buf[:k]...)
		if len(tail) > 64 {
			tail = tail[len(tail)-64:]
		}
	}
	if err != io.EOF {
		return 0, fmt.Errorf("stream cut: %v", err)
	}
	if !bytes.Contains(tail, []byte("[DONE]")) {
		return 0, fmt.Errorf("stream ended without [DONE]")
	}
	return ttfb, nil
}
