// Package sysmon keeps the Go runtime's system monitor polling while the
// gateway serves, instead of sleeping whenever every processor is idle.
//
// Why: at low load every Go processor is idle between calls, so the
// monitor (sysmon) goes into a deep sleep, and the next system call
// entry — the very next socket write of a call — wakes it with a futex.
// It then polls every 20 µs for about a millisecond before it sleeps
// again. That is a thread wake-up and a few context switches per call on
// a core the client and the upstream need; on the 2-core VM of
// docs/benchmarks.md polling took 24–28% off the gateway's CPU per call
// at c=1.
// Polling instead (at most every 10 ms when idle: ~100 wake-ups a second)
// spares every call that wake-up.
//
// The runtime offers no API for it. Its monitor skips the deep sleep while
// a scheduler trace is on (GODEBUG=schedtrace=N, read once at start), so
// [Exec] restarts the binary in place with a trace period of 2^31-1 ms
// (24.8 days). The trace then prints one line of scheduler state to
// standard error when the machine has been up that long (the runtime
// counts from boot), and again every 24.8 days; a fatal error also prints
// the scheduler's state.
package sysmon

import (
	"os"
	"slices"
	"strings"
	"syscall"
)

// Setting is the GODEBUG setting [Exec] adds.
const Setting = "schedtrace=2147483647"

// Awake reports whether this process was started with Setting, so that
// its monitor polls.
func Awake() bool {
	return slices.Contains(fields(os.Getenv("GODEBUG")), Setting)
}

// Exec replaces the process with the same binary, arguments and
// environment, GODEBUG gaining Setting. When GODEBUG already sets
// schedtrace — the operator's choice, or this is the process Exec
// started — it does nothing and returns nil. It returns an error only
// when the replacement failed; the process then carries on as it is.
func Exec() error {
	godebug := os.Getenv("GODEBUG")
	if setsSchedtrace(godebug) {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(self, os.Args, withGODEBUG(os.Environ(), addSetting(godebug)))
}

// Unset removes Setting from this process's GODEBUG, where Exec put it:
// the runtime has read it, and the programs the gateway starts (process
// plugins) should not inherit it.
func Unset() {
	if !Awake() {
		return
	}
	if rest := removeSetting(os.Getenv("GODEBUG"), Setting); rest != "" {
		os.Setenv("GODEBUG", rest)
	} else {
		os.Unsetenv("GODEBUG")
	}
}

// fields is a GODEBUG value's settings, empty ones left out.
func fields(godebug string) []string {
	return slices.DeleteFunc(strings.Split(godebug, ","), func(f string) bool { return f == "" })
}

// setsSchedtrace reports whether godebug has any schedtrace setting.
func setsSchedtrace(godebug string) bool {
	return slices.ContainsFunc(fields(godebug), func(f string) bool { return strings.HasPrefix(f, "schedtrace=") })
}

func addSetting(godebug string) string {
	return strings.Join(append(fields(godebug), Setting), ",")
}

func removeSetting(godebug, setting string) string {
	return strings.Join(slices.DeleteFunc(fields(godebug), func(f string) bool { return f == setting }), ",")
}

// withGODEBUG returns env with GODEBUG set to godebug.
func withGODEBUG(env []string, godebug string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	return append(out, "GODEBUG="+godebug)
}
