package sysmon

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as a program that calls Exec (or
// not) and then reports what it is.
const childEnv = "SYSMON_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "exec":
		if !setsSchedtrace(os.Getenv("GODEBUG")) {
			fmt.Printf("pid %d\n", os.Getpid()) // before the replacement
		}
		if err := Exec(); err != nil {
			fmt.Printf("exec failed: %v\n", err)
			os.Exit(1)
		}
		awake := Awake()
		Unset()
		fmt.Printf("awake %v godebug %q pid %d switches %d\n", awake, os.Getenv("GODEBUG"), os.Getpid(), idleSwitches())
		os.Exit(0)
	case "plain":
		fmt.Printf("awake %v godebug %q pid %d switches %d\n", Awake(), os.Getenv("GODEBUG"), os.Getpid(), idleSwitches())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// idleSwitches counts the process's voluntary context switches while it
// sleeps with every Go processor idle: a sleeping monitor makes none, a
// polling one one per poll.
func idleSwitches() int {
	time.Sleep(200 * time.Millisecond) // start-up settles
	before := contextSwitches()
	time.Sleep(time.Second)
	return contextSwitches() - before
}

// contextSwitches sums voluntary_ctxt_switches over the process's threads.
func contextSwitches() int {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	n := 0
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

type childReport struct {
	pidBefore, pid, switches int
	awake                    bool
	godebug                  string
}

func runChild(t *testing.T, mode string, env ...string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutGODEBUG(os.Environ()), append(env, childEnv+"="+mode)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r childReport
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.HasPrefix(lines[0], "pid ") {
		if _, err := fmt.Sscanf(lines[0], "pid %d", &r.pidBefore); err != nil {
			t.Fatalf("child said %q", out)
		}
		lines = lines[1:]
	}
	if len(lines) != 1 {
		t.Fatalf("child said %q", out)
	}
	if _, err := fmt.Sscanf(lines[0], "awake %t godebug %q pid %d switches %d", &r.awake, &r.godebug, &r.pid, &r.switches); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return r
}

func withoutGODEBUG(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestExecKeepsTheMonitorPolling runs a program that calls Exec: it is
// replaced in place (same pid), starts awake, hides the setting from its
// own children, and its monitor wakes while the program idles, where a
// program started without it sleeps through.
func TestExecKeepsTheMonitorPolling(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("needs /proc to count context switches")
	}
	got := runChild(t, "exec", "GODEBUG=http2client=0")
	if got.pidBefore == 0 || got.pid != got.pidBefore {
		t.Errorf("pid %d after Exec, %d before: want the process replaced in place", got.pid, got.pidBefore)
	}
	if !got.awake {
		t.Errorf("after Exec the runtime did not start with %s", Setting)
	}
	if got.godebug != "http2client=0" {
		t.Errorf("GODEBUG after Unset = %q, want the caller's own %q", got.godebug, "http2client=0")
	}
	plain := runChild(t, "plain")
	if plain.awake {
		t.Errorf("a program started without Exec reports awake")
	}
	// Polling at most every 10 ms, the monitor wakes ~100 times in the idle
	// second; asleep, it does not wake at all (the rest are the runtime's
	// other threads, more of them under -race). The margin is wide so that
	// a busy machine, which delays wake-ups, cannot blur the two.
	if got.switches-plain.switches < 40 {
		t.Errorf("idle second: %d context switches with the setting, %d without; want the polling monitor's many more", got.switches, plain.switches)
	}
	t.Logf("idle second: %d context switches polling, %d sleeping", got.switches, plain.switches)
}

// TestExecLeavesTheOperatorsSchedtrace: a schedtrace the operator set is
// kept, and Exec does not replace the process.
func TestExecLeavesTheOperatorsSchedtrace(t *testing.T) {
	got := runChild(t, "exec", "GODEBUG=schedtrace=0")
	if got.awake || got.godebug != "schedtrace=0" {
		t.Errorf("awake %v, GODEBUG %q: want the operator's schedtrace=0 untouched", got.awake, got.godebug)
	}
}

func TestSettings(t *testing.T) {
	for _, tt := range []struct {
		godebug, added, removed string
		sets                    bool
	}{
		{"", Setting, "", false},
		{"http2client=0", "http2client=0," + Setting, "http2client=0", false},
		{"schedtrace=1000", "schedtrace=1000," + Setting, "schedtrace=1000", true},
		{Setting, Setting + "," + Setting, "", true},
		{"a=1," + Setting + ",b=2", "a=1," + Setting + ",b=2," + Setting, "a=1,b=2", true},
		{"xschedtrace=1", "xschedtrace=1," + Setting, "xschedtrace=1", false},
	} {
		if got := addSetting(tt.godebug); got != tt.added {
			t.Errorf("addSetting(%q) = %q, want %q", tt.godebug, got, tt.added)
		}
		if got := removeSetting(tt.godebug, Setting); got != tt.removed {
			t.Errorf("removeSetting(%q) = %q, want %q", tt.godebug, got, tt.removed)
		}
		if got := setsSchedtrace(tt.godebug); got != tt.sets {
			t.Errorf("setsSchedtrace(%q) = %v, want %v", tt.godebug, got, tt.sets)
		}
	}
	env := withGODEBUG([]string{"A=1", "GODEBUG=x=1", "B=2"}, "x=1,"+Setting)
	if strings.Join(env, " ") != "A=1 B=2 GODEBUG=x=1,"+Setting {
		t.Errorf("withGODEBUG = %q", env)
	}
}
