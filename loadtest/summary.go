package loadtest

import (
	"fmt"
	"io"
)

// Summary prints the headline figures of r.
func Summary(w io.Writer, r *Result) {
	for _, line := range Headlines(r) {
		fmt.Fprintln(w, "  "+line)
	}
}
