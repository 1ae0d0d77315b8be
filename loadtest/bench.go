package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Bench is one benchmark's figures from `go test -bench` output, the
// median over its runs (-count).
type Bench struct {
	Pkg      string
	Name     string // without the -GOMAXPROCS suffix
	NsOp     float64
	CPUNsOp  float64 // CPU time per op, for benchmarks that report cpu-ns/op or cpu-µs/op
	BOp      float64
	AllocsOp float64
	Runs     int
}

// Key identifies a benchmark across files.
func (b Bench) Key() string { return b.Pkg + "." + b.Name }

// ParseBench reads `go test -bench` output (as benchstat does) and returns
// each benchmark once, with the median of its runs, in the order first
// seen. Lines that are not results are skipped; FAIL lines name packages
// that did not run.
func ParseBench(r io.Reader) (benches []Bench, failed []string, err error) {
	type acc struct {
		b                    Bench
		ns, cpu, bytes, allo []float64
	}
	var order []string
	all := map[string]*acc{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "FAIL ") {
			if f := strings.Fields(line); len(f) >= 2 {
				failed = append(failed, f[1])
			}
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := Bench{Pkg: pkg, Name: name}
		a := all[b.Key()]
		if a == nil {
			a = &acc{b: b}
			all[b.Key()] = a
			order = append(order, b.Key())
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "cpu-ns/op":
				a.cpu = append(a.cpu, v)
			case "cpu-µs/op", "cpu-us/op":
				a.cpu = append(a.cpu, v*1e3)
			case "B/op":
				a.bytes = append(a.bytes, v)
			case "allocs/op":
				a.allo = append(a.allo, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	for _, k := range order {
		a := all[k]
		a.b.NsOp, a.b.CPUNsOp, a.b.BOp, a.b.AllocsOp, a.b.Runs = median(a.ns), median(a.cpu), median(a.bytes), median(a.allo), len(a.ns)
		benches = append(benches, a.b)
	}
	return benches, failed, nil
}

// BenchDelta is one benchmark in the baseline and now.
type BenchDelta struct {
	Key      string
	Old, New Bench
	Ratio    float64 // New / Old time per op: CPU time when both report it (steadier on a shared machine), else wall time
	CPU      bool    // Ratio compares CPU time
	Slower   bool    // time over the tolerance
	MoreMem  bool    // more allocations per op
}

// CompareBench compares cur with base: time slower than tol (0.2 is 20%)
// or any extra allocation per op is a regression. It returns every
// benchmark in both, and the keys only in one of them.
func CompareBench(base, cur []Bench, tol float64) (deltas []BenchDelta, onlyBase, onlyCur []string) {
	old := map[string]Bench{}
	for _, b := range base {
		old[b.Key()] = b
	}
	seen := map[string]bool{}
	for _, b := range cur {
		o, ok := old[b.Key()]
		if !ok {
			onlyCur = append(onlyCur, b.Key())
			continue
		}
		seen[b.Key()] = true
		d := BenchDelta{Key: b.Key(), Old: o, New: b}
		switch {
		case o.CPUNsOp > 0 && b.CPUNsOp > 0:
			d.Ratio, d.CPU = b.CPUNsOp/o.CPUNsOp, true
		case o.NsOp > 0:
			d.Ratio = b.NsOp / o.NsOp
		}
		d.Slower = d.Ratio > 1+tol
		d.MoreMem = b.AllocsOp > o.AllocsOp+0.5
		deltas = append(deltas, d)
	}
	for _, b := range base {
		if !seen[b.Key()] {
			onlyBase = append(onlyBase, b.Key())
		}
	}
	sort.Strings(onlyBase)
	sort.Strings(onlyCur)
	return deltas, onlyBase, onlyCur
}

// WriteBenchCheck prints the comparison and returns the number of
// regressions.
func WriteBenchCheck(w io.Writer, deltas []BenchDelta, onlyBase, onlyCur, failed []string, tol float64) int {
	bad := 0
	fmt.Fprintf(w, "%-64s %12s %12s %8s %10s %10s\n", "benchmark", "baseline", "now", "delta", "allocs was", "allocs now")
	for _, d := range deltas {
		mark := ""
		if d.Slower || d.MoreMem {
			mark = "  SLOWER"
			if !d.Slower {
				mark = "  MORE ALLOCS"
			}
			bad++
		}
		old, cur := fmtNs(d.Old.NsOp), fmtNs(d.New.NsOp)
		if d.CPU {
			old, cur = "cpu "+fmtNs(d.Old.CPUNsOp), "cpu "+fmtNs(d.New.CPUNsOp)
		}
		fmt.Fprintf(w, "%-64s %12s %12s %+7.1f%% %10.0f %10.0f%s\n", short(d.Key), old, cur,
			(d.Ratio-1)*100, d.Old.AllocsOp, d.New.AllocsOp, mark)
	}
	for _, k := range onlyBase {
		fmt.Fprintf(w, "%-64s not run now (removed, renamed, or its package failed)\n", short(k))
	}
	for _, k := range onlyCur {
		fmt.Fprintf(w, "%-64s new: not in the baseline\n", short(k))
	}
	for _, p := range failed {
		fmt.Fprintf(w, "package %s failed to build or run its benchmarks\n", p)
	}
	if bad == 0 {
		fmt.Fprintf(w, "bench-check: nothing slower than the baseline by more than %.0f%%, and no new allocations\n", tol*100)
	} else {
		fmt.Fprintf(w, "bench-check: %d benchmark(s) slower than the baseline by more than %.0f%% or allocating more\n", bad, tol*100)
	}
	return bad
}

// short drops the module path from a benchmark key.
func short(key string) string {
	s := strings.TrimPrefix(key, "github.com/tollgate-dev/tollgate")
	if strings.HasPrefix(s, ".") {
		return "(root)" + s
	}
	return strings.TrimPrefix(s, "/")
}

// fmtNs formats ns/op with a unit that keeps it short.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
