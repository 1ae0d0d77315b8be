package loadtest

import "fmt"

// Row is one target at one concurrency, every figure a median over rounds.
// Added figures and ratios are paired: each round's value is taken against
// the baseline measured in the same round, then the median of those is
// reported, so that drift in the machine's load between rounds cancels.
type Row struct {
	Name          string
	Kind          string
	Concurrency   int
	P50, P90, P99 float64 // µs
	AddP50        float64 // µs over direct
	AddP90        float64
	AddP99        float64
	RPS           float64
	VsBare        float64 // throughput ratio to the bare proxy (0 when unknown)
	VsDirect      float64 // throughput ratio to direct
	CPU           float64 // µs of the target process's CPU per request
	UpCPU         float64 // µs of the upstream's CPU per request
	MaxRSSKB      int64   // largest VmRSS seen in any round
	MaxAnonKB     int64   // largest RssAnon seen in any round
	Errors        int64   // over all rounds
	Rounds        int
}

// HTTPRow computes t's row at concurrency c against r's direct and bare
// eachHTTPRow calls f with each target's figures at each concurrency that
// has them, in the targets' order.
func eachHTTPRow(r *Result, concurrencies []int, f func(t *Target, c int, row Row)) {
	for i := range r.Targets {
		t := &r.Targets[i]
		for _, c := range concurrencies {
			if row, ok := HTTPRow(r, t, c); ok {
				f(t, c, row)
			}
		}
	}
}

// targets; ok is false when t has no runs at c.
func HTTPRow(r *Result, t *Target, c int) (row Row, ok bool) {
	runs := t.Runs(c)
	if len(runs) == 0 {
		return row, false
	}
	var direct, bare []Sample
	if d := r.ByKind(KindDirect); d != nil {
		direct = d.Runs(c)
	}
	if b := r.ByKind(KindBare); b != nil {
		bare = b.Runs(c)
	}
	row = Row{Name: t.Name, Kind: t.Kind, Concurrency: c, Rounds: len(runs)}
	var p50, p90, p99, rps, cpu, up, a50, a90, a99, vb, vd []float64
	for i, s := range runs {
		p50, p90, p99 = append(p50, s.P50), append(p90, s.P90), append(p99, s.P99)
		rps, cpu, up = append(rps, s.RPS), append(cpu, s.CPUPerReq), append(up, s.UpCPUPer)
		row.MaxRSSKB = max(row.MaxRSSKB, s.MaxRSSKB)
		row.MaxAnonKB = max(row.MaxAnonKB, s.MaxAnonKB)
		row.Errors += s.Errors
		if i < len(direct) {
			d := direct[i]
			a50, a90, a99 = append(a50, s.P50-d.P50), append(a90, s.P90-d.P90), append(a99, s.P99-d.P99)
			if d.RPS > 0 {
				vd = append(vd, s.RPS/d.RPS)
			}
		}
		if i < len(bare) && bare[i].RPS > 0 {
			vb = append(vb, s.RPS/bare[i].RPS)
		}
	}
	row.P50, row.P90, row.P99 = median(p50), median(p90), median(p99)
	row.AddP50, row.AddP90, row.AddP99 = median(a50), median(a90), median(a99)
	row.RPS, row.CPU, row.UpCPU = median(rps), median(cpu), median(up)
	row.VsBare, row.VsDirect = median(vb), median(vd)
	return row, true
}

// TTFBRow is a target's time to first byte on sequential streams.
type TTFBRow struct {
	Name           string
	P50, P99       float64 // µs, median over rounds
	AddP50, AddP99 float64 // paired against direct
	OK, Errors     int
}

// StreamTTFB computes t's time-to-first-byte row.
func StreamTTFB(r *Result, t *Target) (TTFBRow, bool) {
	if len(t.TTFB) == 0 {
		return TTFBRow{}, false
	}
	var direct []StreamRun
	if d := r.ByKind(KindDirect); d != nil {
		direct = d.TTFB
	}
	row := TTFBRow{Name: t.Name}
	var p50, p99, a50, a99 []float64
	for i, s := range t.TTFB {
		p50, p99 = append(p50, s.TTFBP50), append(p99, s.TTFBP99)
		row.OK += s.OK
		row.Errors += s.Errors
		if i < len(direct) {
			a50, a99 = append(a50, s.TTFBP50-direct[i].TTFBP50), append(a99, s.TTFBP99-direct[i].TTFBP99)
		}
	}
	row.P50, row.P99, row.AddP50, row.AddP99 = median(p50), median(p99), median(a50), median(a99)
	return row, true
}

// Check is one target of the performance budget and whether it was met.
type Check struct {
	What   string
	Target string
	Got    string
	Met    bool
	Known  bool // false when the run lacks the figure
}

// Targets of the performance budget (docs/benchmarks.md).
const (
	budgetAddP50     = 200.0 // µs at c=1
	budgetAddP99     = 500.0 // µs at c=1
	budgetVsBare     = 0.9   // throughput at c=16
	budgetLoadRSSMB  = 50.0  // under the c=16 load
	budgetStreamRSSM = 100.0 // under the concurrent streams
)

// Checks evaluates the performance budget for the gateway target named
// name (the default pipeline).
func Checks(r *Result, name string) []Check {
	t := r.Target(name)
	if t == nil || t.Skipped != "" {
		return []Check{{What: "gateway " + name, Got: "did not run"}}
	}
	var out []Check
	c1, ok1 := HTTPRow(r, t, 1)
	out = append(out,
		Check{What: "added latency c=1 p50", Target: "≤ 0.20 ms", Got: ms(c1.AddP50), Met: c1.AddP50 <= budgetAddP50, Known: ok1},
		Check{What: "added latency c=1 p99", Target: "≤ 0.50 ms", Got: ms(c1.AddP99), Met: c1.AddP99 <= budgetAddP99, Known: ok1})
	c16, ok16 := HTTPRow(r, t, 16)
	out = append(out,
		Check{What: "throughput c=16 vs bare proxy", Target: "≥ 0.90× (aim > 1.0×)", Got: fmt.Sprintf("%.2f×", c16.VsBare), Met: c16.VsBare >= budgetVsBare, Known: ok16 && c16.VsBare > 0},
		cpuCheck(r, c16, ok16),
		Check{What: "RSS under the c=16 load", Target: "≤ 50 MB", Got: fmt.Sprintf("%s, anon %s", mb(c16.MaxRSSKB), mb(c16.MaxAnonKB)), Met: float64(c16.MaxRSSKB)/1024 <= budgetLoadRSSMB, Known: ok16 && c16.MaxRSSKB > 0})
	if s := t.Streams; s != nil {
		out = append(out, Check{What: fmt.Sprintf("RSS under %d concurrent streams", s.Streams), Target: "≤ 100 MB",
			Got: fmt.Sprintf("%s, anon %s (%d ok, %d failed)", mb(s.MaxRSSKB), mb(s.MaxAnonKB), s.OK, s.Errors),
			Met: float64(s.MaxRSSKB)/1024 <= budgetStreamRSSM && s.Errors == 0, Known: true})
	}
	return out
}

// cpuCheck compares CPU per call with the bare proxy's at c=16: the
// steadier form of the throughput target on a busy machine, since with the
// cores saturated throughput is the inverse of CPU per call. 0.9× the
// throughput is at most 1/0.9 = 1.11× the CPU.
func cpuCheck(r *Result, row Row, ok bool) Check {
	c := Check{What: "CPU per call c=16 vs bare proxy", Target: "≤ 1.11× (≡ throughput ≥ 0.9×)"}
	b := r.ByKind(KindBare)
	if !ok || b == nil {
		return c
	}
	br, bok := HTTPRow(r, b, 16)
	if !bok || br.CPU <= 0 || row.CPU <= 0 {
		return c
	}
	x := row.CPU / br.CPU
	c.Got, c.Met, c.Known = fmt.Sprintf("%.2f× (%.0f µs against %.0f µs)", x, row.CPU, br.CPU), x <= 1/budgetVsBare, true
	return c
}

// Headlines are one-line verdicts for the terminal.
func Headlines(r *Result) []string {
	var out []string
	for _, c := range Checks(r, defaultTarget(r)) {
		v := "MISSED"
		switch {
		case !c.Known:
			v = "n/a"
		case c.Met:
			v = "met"
		}
		out = append(out, fmt.Sprintf("%-36s %-22s %-28s %s", c.What, c.Target, c.Got, v))
	}
	return out
}

// defaultTarget is the gateway target the budget applies to: "default",
// or else the first gateway.
func defaultTarget(r *Result) string {
	if r.Target("default") != nil {
		return "default"
	}
	for _, t := range r.Targets {
		if t.Kind == KindGateway {
			return t.Name
		}
	}
	return "default"
}

func ms(us float64) string { return fmt.Sprintf("%.3f ms", us/1000) }
func mb(kb int64) string   { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
