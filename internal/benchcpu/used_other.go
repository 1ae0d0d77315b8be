//go:build !unix

package benchcpu

import "time"

// used: no getrusage here, so benchmarks report wall time only.
func used() (time.Duration, bool) { return 0, false }
