package sinks_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/tracking/sinks"
)

func events(n int) []*core.UsageEvent {
	out := make([]*core.UsageEvent, n)
	for i := range out {
		out[i] = &core.UsageEvent{ID: core.NewID(), CustomerID: "acme", Model: "gpt-4o", Metadata: map[string]string{}}
	}
	return out
}

func TestJSONLRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.jsonl")
	s, err := sinks.OpenJSONL(sinks.JSONLConfig{Path: path, RotateBytes: 2000, KeepFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 20 {
		if err := s.Write(context.Background(), events(3)); err != nil { // ~900 bytes a batch
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct rotation names
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "usage-*.jsonl"))
	if len(rotated) != 2 {
		t.Errorf("%d rotated files kept, want 2: %v", len(rotated), rotated)
	}
	for _, p := range append(rotated, path) {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 2000 {
			t.Errorf("%s: %v bytes, want at most 2000 (%v)", p, fi.Size(), err)
		}
		data, _ := os.ReadFile(p)
		if n := strings.Count(string(data), "\n"); n%3 != 0 {
			t.Errorf("%s holds %d lines: a batch was split across files", p, n)
		}
	}
}

func TestHTTPSink(t *testing.T) {
	var gotAuth, gotBody string
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if status == 429 {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		w.Write([]byte("nope\n  details"))
	}))
	defer srv.Close()
	s, err := sinks.NewHTTP(sinks.HTTPConfig{URL: srv.URL}, "tok-123")
	if err != nil {
		t.Fatal(err)
	}
	evs := events(2)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer tok-123" || !strings.HasPrefix(gotBody, `{"events":[{"id":"`+evs[0].ID) {
		t.Errorf("auth %q body %s", gotAuth, gotBody)
	}
	tests := []struct {
		status    int
		rejected  bool
		retryWait time.Duration
	}{
		{400, true, 0}, {401, true, 0}, {404, true, 0}, {422, true, 0},
		{408, false, 0}, {429, false, 7 * time.Second}, {500, false, 0}, {503, false, 0},
	}
	for _, tt := range tests {
		status = tt.status
		err := s.Write(context.Background(), evs)
		if err == nil || errors.Is(err, core.ErrSinkRejected) != tt.rejected || !strings.Contains(err.Error(), "nope details") {
			t.Errorf("%d: err %v, rejected want %v", tt.status, err, tt.rejected)
		}
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) && ra.RetryAfter() != tt.retryWait {
			t.Errorf("%d: retry after %v, want %v", tt.status, ra.RetryAfter(), tt.retryWait)
		}
	}
}

// TestHTTPSinkTrustsCAFile: a tracker behind a private CA is reached
// once ca_file names its certificate, and refused by the system's roots
// without it.
func TestHTTPSinkTrustsCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	trusting, err := sinks.NewHTTP(sinks.HTTPConfig{URL: srv.URL, CAFile: ca}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := trusting.Write(context.Background(), events(1)); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
	plain, err := sinks.NewHTTP(sinks.HTTPConfig{URL: srv.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Write(context.Background(), events(1)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca_file: %v, want the certificate refused", err)
	}
}

func TestSinkConfigErrors(t *testing.T) {
	env := pipeline.Env{Lookup: func(name string) (string, bool) {
		if name == "TRACKER_TOKEN" {
			return "secret-token", true
		}
		return "", false
	}}
	tests := []struct {
		name    string
		spec    pipeline.SinkSpec
		wantErr string
	}{
		{"http ok", pipeline.SinkSpec{Type: "http", Config: map[string]any{"url": "https://t.example/e", "token_env": "TRACKER_TOKEN"}}, ""},
		{"token variable unset", pipeline.SinkSpec{Type: "http", Config: map[string]any{"url": "https://t.example/e", "token_env": "NOPE"}}, "the variable NOPE is not set"},
		{"relative url", pipeline.SinkSpec{Type: "http", Config: map[string]any{"url": "/events"}}, "absolute http(s) URL"},
		{"credentials in url", pipeline.SinkSpec{Type: "http", Config: map[string]any{"url": "https://u:p@t.example/"}}, "must not hold credentials"},
		{"ca_file missing", pipeline.SinkSpec{Type: "http", Config: map[string]any{"url": "https://t.example/e", "ca_file": "/nonexistent/ca.pem"}}, "ca_file: open /nonexistent/ca.pem"},
		{"jsonl without path", pipeline.SinkSpec{Type: "jsonl"}, "path: required"},
		{"unknown key", pipeline.SinkSpec{Type: "stdout", Config: map[string]any{"path": "x"}}, `unknown key "path"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Path = "sinks[0]"
			s, err := pipeline.NewSink(tt.spec, env)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}
