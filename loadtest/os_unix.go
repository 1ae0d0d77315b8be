//go:build unix

package loadtest

import (
	"os"
	"syscall"
)

// setNice sets this process's scheduling priority; the children it starts
// inherit it (wrk, the upstream, the proxies).
func setNice(n int) error { return syscall.Setpriority(syscall.PRIO_PROCESS, 0, n) }

// canPause: stopProcess and continueProcess work here.
const canPause = true

// stopProcess and continueProcess pause a process and let it run again.
func stopProcess(p *os.Process) error     { return p.Signal(syscall.SIGSTOP) }
func continueProcess(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
