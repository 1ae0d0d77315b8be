package loadtest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed wrk.lua
var wrkScript []byte

// wrkRun is one wrk invocation.
type wrkRun struct {
	URL         string
	Threads     int
	Conns       int
	Duration    time.Duration
	MaxRequests int64  // across threads; a bound beside Duration
	Dir         string // where the script and body files are written
	Body        string
}

// wrkOutput is the JSON line wrk.lua prints.
type wrkOutput struct {
	Requests   int64      `json:"requests"`
	DurationUS int64      `json:"duration_us"`
	ErrConnect int64      `json:"err_connect"`
	ErrRead    int64      `json:"err_read"`
	ErrWrite   int64      `json:"err_write"`
	ErrStatus  int64      `json:"err_status"`
	ErrTimeout int64      `json:"err_timeout"`
	P50        float64    `json:"p50_us"`
	P90        float64    `json:"p90_us"`
	P99        float64    `json:"p99_us"`
	P999       float64    `json:"p999_us"`
	Mean       float64    `json:"mean_us"`
	Hist       [][2]int64 `json:"hist"` // [µs, calls], each distinct latency once
}

// run runs wrk and returns its figures. wrk stops itself at -d or after
// MaxRequests; ctx kills it if neither happens in time.
func (w wrkRun) run(ctx context.Context) (Sample, error) {
	script := filepath.Join(w.Dir, "wrk.lua")
	body := filepath.Join(w.Dir, "body.json")
	if err := os.WriteFile(script, wrkScript, 0o644); err != nil {
		return Sample{}, err
	}
	if err := os.WriteFile(body, []byte(w.Body), 0o644); err != nil {
		return Sample{}, err
	}
	threads := max(1, min(w.Threads, w.Conns))
	perThread := int64(0)
	if w.MaxRequests > 0 {
		perThread = (w.MaxRequests + int64(threads) - 1) / int64(threads)
	}
	ctx, cancel := context.WithTimeout(ctx, w.Duration+15*time.Second)
	defer cancel()
	secs := max(1, int(w.Duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "wrk",
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(w.Conns), "-d", strconv.Itoa(secs)+"s",
		"--timeout", "10s", "-s", script, w.URL)
	cmd.Env = append(os.Environ(), "LOADTEST_BODY="+body, "LOADTEST_MAX_PER_THREAD="+strconv.FormatInt(perThread, 10))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Sample{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return parseWrk(out.Bytes())
}

// parseWrk reads the LOADTEST_JSON line of wrk's output.
func parseWrk(out []byte) (Sample, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	// The histogram makes the line long: tens of thousands of distinct
	// latencies under load.
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "LOADTEST_JSON ")
		if !ok {
			continue
		}
		var o wrkOutput
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			return Sample{}, fmt.Errorf("wrk: cannot read its figures: %v", err)
		}
		secs := float64(o.DurationUS) / 1e6
		s := Sample{
			Requests: o.Requests,
			Errors:   o.ErrConnect + o.ErrRead + o.ErrWrite + o.ErrStatus + o.ErrTimeout,
			Seconds:  secs,
			P50:      o.P50, P90: o.P90, P99: o.P99, P999: o.P999, Mean: o.Mean,
		}
		for _, b := range o.Hist {
			s.hist = append(s.hist, bin{us: b[0], n: b[1]})
		}
		if secs > 0 {
			s.RPS = float64(o.Requests) / secs
		}
		if s.Errors > 0 {
			s.FirstError = fmt.Sprintf("connect %d, read %d, write %d, status %d, timeout %d",
				o.ErrConnect, o.ErrRead, o.ErrWrite, o.ErrStatus, o.ErrTimeout)
		}
		return s, nil
	}
	return Sample{}, fmt.Errorf("wrk printed no figures:\n%s", out)
}

// wrkVersion returns wrk's version line.
func wrkVersion() string {
	out, _ := exec.Command("wrk", "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if i := strings.Index(line, " ["); i > 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}
