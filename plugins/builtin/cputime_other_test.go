//go:build !linux

package builtin_test

import "time"

// threadCPU is not available here.
func threadCPU() (time.Duration, bool) { return 0, false }
