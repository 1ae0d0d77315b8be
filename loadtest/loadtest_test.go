package loadtest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCannedAnswers(t *testing.T) {
	c := NewCanned()
	tests := []struct {
		name, body, wantType, wantIn string
	}{
		{"call", Body, "application/json", `"chat.completion"`},
		{"stream", StreamBody, "text/event-stream", "data: [DONE]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(tt.body)))
			if rec.Code != 200 || rec.Header().Get("Content-Type") != tt.wantType || !strings.Contains(rec.Body.String(), tt.wantIn) {
				t.Fatalf("got %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
		})
	}
	if c.Events() < 3 {
		t.Fatalf("the canned stream has %d events", c.Events())
	}
}

func TestStreamClientThroughCanned(t *testing.T) {
	srv := httptest.NewServer(NewCanned())
	defer srv.Close()
	client := newStreamClient(8)
	sr := streamRun{URL: srv.URL + "/v1/chat/completions", N: 20, Concurrency: 4, ChunkDelay: time.Millisecond, MaxDuration: time.Minute}.run(t.Context(), client)
	if sr.OK != 20 || sr.Errors != 0 || sr.PeakOpen < 1 || sr.PeakOpen > 4 {
		t.Fatalf("got %+v", sr)
	}
	if err := smoke(t.Context(), client, srv.URL+"/v1/chat/completions"); err != nil {
		t.Fatal(err)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true}, {"127.9.9.9:1", true}, {"[::1]:8080", true}, {"localhost:1", true},
		{"10.0.0.1:80", false}, {"192.168.1.1:80", false}, {"example.invalid:80", false}, {"0.0.0.0:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if err := CheckLoopback(tt.addr); (err == nil) != tt.ok {
				t.Fatalf("CheckLoopback(%q) = %v", tt.addr, err)
			}
		})
	}
}

func TestParseWrk(t *testing.T) {
	out := "Running 2s test\nLOADTEST_JSON {\"requests\":1000,\"duration_us\":2000000,\"bytes\":1,\"err_connect\":0,\"err_read\":1,\"err_write\":0,\"err_status\":2,\"err_timeout\":0,\"p50_us\":99,\"p90_us\":210,\"p99_us\":453,\"p999_us\":1217,\"mean_us\":116.36,\"max_us\":1217,\"hist\":[[99,600],[453,390],[1217,10]]}\n"
	s, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 1000 || s.RPS != 500 || s.Errors != 3 || s.P50 != 99 || s.P99 != 453 || s.FirstError == "" {
		t.Fatalf("got %+v", s)
	}
	if want := []bin{{99, 600}, {453, 390}, {1217, 10}}; !slices.Equal(s.hist, want) {
		t.Fatalf("histogram %v, want %v", s.hist, want)
	}
	// Under load a run has tens of thousands of distinct latencies: the
	// line is far longer than a Scanner's default 64 KB.
	var long strings.Builder
	long.WriteString(`LOADTEST_JSON {"requests":200000,"duration_us":1000000,"p99_us":7,"hist":[[1,1]`)
	for us := 2; us < 50_000; us++ {
		fmt.Fprintf(&long, ",[%d,4]", us)
	}
	long.WriteString("]}\n")
	if s, err := parseWrk([]byte(long.String())); err != nil || len(s.hist) != 49_999 || s.P99 != 7 {
		t.Fatalf("a long line: %d bins, p99 %v, err %v", len(s.hist), s.P99, err)
	}
	if _, err := parseWrk([]byte("no figures")); err == nil {
		t.Fatal("want an error without the JSON line")
	}
}

func TestParseStatCPU(t *testing.T) {
	// pid (comm with spaces) state ppid ... utime=250 stime=50 (fields 14, 15)
	line := "1234 (tollgate (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000000 2000"
	got, err := parseStatCPU(line)
	if err != nil || got != 3*time.Second {
		t.Fatalf("got %v, %v", got, err)
	}
	ps, err := ReadProc(os.Getpid())
	if err != nil || ps.RSSKB <= 0 || ps.HWMKB < ps.RSSKB {
		t.Fatalf("ReadProc(self) = %+v, %v", ps, err)
	}
}

func TestBenchParseAndCompare(t *testing.T) {
	base := `goos: linux
pkg: github.com/tollgate-dev/tollgate
BenchmarkPipeline-2   	  50000	     10000 ns/op	    5000 B/op	      50 allocs/op
BenchmarkPipeline-2   	  50000	     12000 ns/op	    5000 B/op	      50 allocs/op
BenchmarkPipeline-2   	  50000	     11000 ns/op	    5000 B/op	      50 allocs/op
BenchmarkGone-2   	  50000	     1000 ns/op
pkg: github.com/tollgate-dev/tollgate/core
BenchmarkSplit/small-2  	 1000000	       100 ns/op	      16 B/op	       1 allocs/op
pkg: github.com/tollgate-dev/tollgate/plugins/rego
BenchmarkStage-2  	 506	 2135968 ns/op	 20.5 cpu-µs/op	 56047 B/op	 1182 allocs/op
PASS
`
	cur := `pkg: github.com/tollgate-dev/tollgate
BenchmarkPipeline-2   	  50000	     15000 ns/op	    5000 B/op	      50 allocs/op
pkg: github.com/tollgate-dev/tollgate/core
BenchmarkSplit/small-2  	 1000000	       101 ns/op	      32 B/op	       2 allocs/op
BenchmarkNew-2  	 1000000	       1 ns/op
pkg: github.com/tollgate-dev/tollgate/plugins/rego
BenchmarkStage-2  	 300	 4135968 ns/op	 21.0 cpu-µs/op	 56047 B/op	 1182 allocs/op
FAIL	github.com/tollgate-dev/tollgate/plugins/rego [build failed]
`
	b, _, err := ParseBench(strings.NewReader(base))
	if err != nil || len(b) != 4 || b[0].NsOp != 11000 || b[0].Runs != 3 || b[2].Name != "BenchmarkSplit/small" || b[3].CPUNsOp != 20500 {
		t.Fatalf("base: %+v, %v", b, err)
	}
	c, failed, _ := ParseBench(strings.NewReader(cur))
	if len(failed) != 1 || failed[0] != "github.com/tollgate-dev/tollgate/plugins/rego" {
		t.Fatalf("failed = %v", failed)
	}
	deltas, onlyBase, onlyCur := CompareBench(b, c, 0.25)
	// The rego stage's wall time doubled but its CPU time did not: not slower.
	if len(deltas) != 3 || !deltas[0].Slower || deltas[1].Slower || !deltas[1].MoreMem || deltas[2].Slower || !deltas[2].CPU {
		t.Fatalf("deltas = %+v", deltas)
	}
	if len(onlyBase) != 1 || len(onlyCur) != 1 {
		t.Fatalf("only base %v, only cur %v", onlyBase, onlyCur)
	}
	var out bytes.Buffer
	if n := WriteBenchCheck(&out, deltas, onlyBase, onlyCur, failed, 0.25); n != 2 {
		t.Fatalf("regressions = %d:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "SLOWER") || !strings.Contains(out.String(), "MORE ALLOCS") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestSplice(t *testing.T) {
	other := "# Benchmarks\n\n## Someone else's section\n\nkept\n"
	doc := Splice(other, LoadBegin+"\nv1\n"+LoadEnd+"\n", LoadBegin, LoadEnd)
	doc = Splice(doc, BenchBegin+"\nb1\n"+BenchEnd+"\n", BenchBegin, BenchEnd)
	doc = Splice(doc, LoadBegin+"\nv2\n"+LoadEnd+"\n", LoadBegin, LoadEnd)
	if !strings.HasPrefix(doc, other) || strings.Contains(doc, "v1") || !strings.Contains(doc, "v2") || !strings.Contains(doc, "b1") ||
		strings.Count(doc, LoadEnd) != 1 {
		t.Fatalf("doc:\n%s", doc)
	}
}

func TestRowsArePairedWithinRounds(t *testing.T) {
	r := &Result{Settings: Settings{Rounds: 3, Concurrencies: []int{1}}, Targets: []Target{
		{Name: "direct", Kind: KindDirect, HTTP: []HTTPRuns{{1, []Sample{{P50: 100, RPS: 1000}, {P50: 200, RPS: 500}, {P50: 100, RPS: 1000}}}}},
		{Name: "bare proxy", Kind: KindBare, HTTP: []HTTPRuns{{1, []Sample{{P50: 300, RPS: 800}, {P50: 400, RPS: 400}, {P50: 300, RPS: 800}}}}},
		{Name: "default", Kind: KindGateway, HTTP: []HTTPRuns{{1, []Sample{{P50: 250, RPS: 880}, {P50: 350, RPS: 440}, {P50: 250, RPS: 880}}}}},
	}}
	row, ok := HTTPRow(r, r.Target("default"), 1)
	if !ok || row.AddP50 != 150 || row.VsBare != 1.1 || row.P50 != 250 {
		t.Fatalf("row = %+v", row)
	}
	checks := Checks(r, "default")
	if !checks[0].Known || !checks[0].Met {
		t.Fatalf("checks = %+v", checks)
	}
	var doc bytes.Buffer
	doc.WriteString(LoadSection(ReportInput{Current: r, Previous: r, CurFile: "a.json", PrevFile: "b.json", ImgDir: "img"}))
	for _, want := range []string{"| default | 1 | 0.250 |", "+0.150", "1.10×", "Compared with the previous run"} {
		if !strings.Contains(doc.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, doc.String())
		}
	}
	if _, err := PlotSpec(r, "img"); err != nil {
		t.Fatal(err)
	}
}

func TestRenderConfigFromDefaultPipeline(t *testing.T) {
	root, _ := filepath.Abs("..")
	dir := t.TempDir()
	for _, name := range []string{"cache.yaml", "rego.yaml"} {
		t.Run(name, func(t *testing.T) {
			path, err := renderConfig(root, filepath.Join("loadtest/configs", name), dir)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			s := string(b)
			if strings.Contains(s, "{{") || !strings.Contains(s, `"name":"call"`) || !strings.Contains(s, `"name":"track"`) {
				t.Fatalf("rendered:\n%s", s)
			}
		})
	}
	f := filepath.Join(dir, "bad.yaml")
	os.WriteFile(f, []byte(`{{ stagesBefore "nosuchstage" }}`), 0o644)
	if _, err := renderConfig(root, f, dir); err == nil || !strings.Contains(err.Error(), "nosuchstage") {
		t.Fatalf("want an error naming the missing stage, got %v", err)
	}
}

// TestReportNamesAGatewaysEnvironment: a row measured with --env says so
// under the stage table, so that its figures can be read for what they are.
func TestReportNamesAGatewaysEnvironment(t *testing.T) {
	runs := []HTTPRuns{{1, []Sample{{P50: 100, RPS: 1000}}}}
	r := &Result{Settings: Settings{Rounds: 1, Concurrencies: []int{1}}, Targets: []Target{
		{Name: "direct", Kind: KindDirect, HTTP: runs},
		{Name: "bare proxy", Kind: KindBare, HTTP: runs},
		{Name: "default", Kind: KindGateway, HTTP: runs},
		{Name: "asleep", Kind: KindGateway, Env: []string{"TOLLGATE_SERVER__SYSMON_AWAKE=false"}, HTTP: runs},
		{Name: "old", Kind: KindGateway, Binary: "/tmp/old/tollgate", HTTP: runs},
	}}
	doc := LoadSection(ReportInput{Current: r, CurFile: "a.json", ImgDir: "img"})
	if want := "- `asleep` ran with `TOLLGATE_SERVER__SYSMON_AWAKE=false` in its environment"; !strings.Contains(doc, want) {
		t.Errorf("section lacks %q:\n%s", want, doc)
	}
	if want := "- `old` ran the gateway binary `/tmp/old/tollgate`"; !strings.Contains(doc, want) {
		t.Errorf("section lacks %q:\n%s", want, doc)
	}
	if strings.Contains(doc, "`default` ran with") {
		t.Errorf("section names an environment for a row that had none:\n%s", doc)
	}
}

// TestReportShowsTheRelayAsAFloor: the relay's row is paired with direct
// like a gateway's, sorts after the baselines, is not mistaken for the
// budget's gateway, and its added p99 is compared between runs.
func TestReportShowsTheRelayAsAFloor(t *testing.T) {
	at := func(p50, p99 float64) []HTTPRuns { return []HTTPRuns{{1, []Sample{{P50: p50, P99: p99, RPS: 1000}}}} }
	r := &Result{Settings: Settings{Rounds: 1, Concurrencies: []int{1}}, Targets: []Target{
		{Name: "default", Kind: KindGateway, HTTP: at(250, 1500)},
		{Name: "tcp relay", Kind: KindRelay, HTTP: at(150, 600)},
		{Name: "bare proxy", Kind: KindBare, HTTP: at(300, 2000)},
		{Name: "direct", Kind: KindDirect, HTTP: at(100, 400)},
	}}
	sortTargets(r, []NamedConfig{{Name: "default"}})
	var order []string
	for _, tg := range r.Targets {
		order = append(order, tg.Name)
	}
	if got := strings.Join(order, ","); got != "direct,bare proxy,tcp relay,default" {
		t.Fatalf("targets sorted as %s", got)
	}
	if got := defaultTarget(r); got != "default" {
		t.Fatalf("the budget's target is %q, want default", got)
	}
	doc := LoadSection(ReportInput{Current: r, Previous: r, CurFile: "a.json", PrevFile: "b.json", ImgDir: "img"})
	for _, want := range []string{"| tcp relay | 1 | 0.150 | 0.000 | 0.600 | +0.050 | +0.000 | +0.200 |", "tcp relay: added p99 at c=1 (the second hop alone)"} {
		if !strings.Contains(doc, want) {
			t.Errorf("section lacks %q:\n%s", want, doc)
		}
	}
}
