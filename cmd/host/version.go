package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/tollgate-dev/tollgate"
)

// commit and date are stamped in by `make release` with -ldflags -X.
var (
	commit = "unknown"
	date   = "unknown"
)

func version(stdout io.Writer) int {
	fmt.Fprintf(stdout, "tollgate %s (commit %s, built %s, %s %s/%s)\n",
		tollgate.Version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
