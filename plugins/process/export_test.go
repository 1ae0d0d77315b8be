package process

import "testing"

// SetMaxMessage lowers the host's message limit for a test; the returned
// function restores it. The plugin process keeps its own.
func SetMaxMessage(n int) (restore func()) {
	old := maxMessage
	maxMessage = n
	return func() { maxMessage = old }
}

// StartCPU starts measuring the CPU time of the host and of p's processes
// (cpu_test.go); the returned function reports it per op.
func StartCPU(p *Plugin) (report func(*testing.B)) { return startCPU(p).report }
