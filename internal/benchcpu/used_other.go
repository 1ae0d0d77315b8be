//go:build !unix

package benchcpu

import "time"

// Used: no getrusage here, so benchmarks report wall time only.
func Used() (time.Duration, bool) { return 0, false }
