package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/loadtest"
)

func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "loadtest/results", "`dir` of result files; the newest is reported, the one before it compared")
	doc := fs.String("doc", "docs/benchmarks.md", "the `doc` to write the sections into")
	img := fs.String("img", "docs/img", "`dir` for the PNG plots")
	plotDir := fs.String("plot", "loadtest/plot", "the plot module's `dir`")
	bench := fs.String("bench", "", "`file` of `go test -bench` output for the in-process table (empty: leave that section)")
	benchCmd := fs.String("bench-cmd", "go test -run '^$' -bench . -benchmem ./...", "the `command` that made --bench, as shown in the doc")
	benchNote := fs.String("bench-note", "", "a `sentence` about how --bench was collected, shown after the command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "loadtest report: %v\n", err); return 1 }
	files, err := loadtest.ResultFiles(*results)
	if err != nil {
		return fail(err)
	}
	if len(files) == 0 {
		return fail(fmt.Errorf("no result files in %s: run `make loadtest` first", *results))
	}
	in := loadtest.ReportInput{CurFile: filepath.ToSlash(files[len(files)-1])}
	if in.Current, err = loadtest.ReadResult(files[len(files)-1]); err != nil {
		return fail(err)
	}
	if len(files) > 1 {
		in.PrevFile = filepath.ToSlash(files[len(files)-2])
		if in.Previous, err = loadtest.ReadResult(files[len(files)-2]); err != nil {
			return fail(err)
		}
	}
	rel, err := filepath.Rel(filepath.Dir(*doc), *img)
	if err != nil {
		return fail(err)
	}
	in.ImgDir = filepath.ToSlash(rel)
	sections := [][3]string{{loadtest.LoadSection(in), loadtest.LoadBegin, loadtest.LoadEnd}}
	if *bench != "" {
		f, err := os.Open(*bench)
		if err != nil {
			return fail(err)
		}
		in.Benches, in.Failed, err = loadtest.ParseBench(f)
		f.Close()
		if err != nil {
			return fail(err)
		}
		in.BenchCmd, in.BenchRaw, in.BenchNote = *benchCmd, filepath.ToSlash(*bench), *benchNote
		sections = append(sections, [3]string{loadtest.BenchSection(in), loadtest.BenchBegin, loadtest.BenchEnd})
	}
	if err := loadtest.WriteDoc(*doc, sections...); err != nil {
		return fail(err)
	}

	absImg, _ := filepath.Abs(*img)
	if err := os.MkdirAll(absImg, 0o755); err != nil {
		return fail(err)
	}
	spec, err := loadtest.PlotSpec(in.Current, absImg)
	if err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp("", "loadtest-plot-*.json")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	tmp.Write(spec)
	tmp.Close()
	cmd := exec.Command("go", "run", ".", tmp.Name())
	cmd.Dir = *plotDir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fail(fmt.Errorf("drawing the plots: %v", err))
	}
	fmt.Fprintf(stdout, "loadtest report: %s and its plots in %s from %s\n", *doc, *img, in.CurFile)
	return 0
}
