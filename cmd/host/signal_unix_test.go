//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// A command other than serve dies of SIGINT even while it is blocked:
// here validate, reading a config file that is a FIFO nobody writes.
// It used to catch the signal and never look at it.
func TestCommandsDieOfASignal(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	cmd := exec.Command(binary, "validate", "--config", fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once validate has opened it
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // lets a validate that ignored the signal read EOF and end
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
			t.Errorf("validate ended with %v, want killed by SIGINT", err)
		}
	case <-time.After(20 * time.Second): // a hang guard, not a timing
		cmd.Process.Kill()
		t.Fatal("validate blocked on its config file ignored SIGINT")
	}
}

// A SIGHUP that comes while the gateway starts is a reload once it
// serves; it used to end the process (SIGHUP's default) until the
// reloader was set up, after the usage database, the pipeline and the
// listeners. The config file is a FIFO, so the signal is sent while
// serve is surely inside its start: reading the file.
func TestSIGHUPWhileStartingIsAReload(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "tollgate.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	listen, admin := freeAddrs(t)
	// No sysmon restart: the new image would read the FIFO again.
	cfg := fmt.Sprintf("listen: %s\nadmin_listen: %s\ndata_dir: %s\nlog: {format: json}\nreload: {watch: false}\nserver: {sysmon_awake: false}\n",
		listen, admin, dir)
	feed := func() { // one reader's worth of the config
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once serve opens it
		if err != nil {
			t.Error(err)
			return
		}
		w.WriteString(cfg)
		w.Close()
	}
	h := &host{stderr: &logbuf.Buffer{}, done: make(chan error, 1), admin: "http://" + admin}
	h.cmd = exec.Command(binary, "serve", "--config", fifo)
	h.cmd.Stderr = h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() { h.cmd.Process.Kill() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Process.Signal(syscall.SIGHUP)
	w.WriteString(cfg)
	w.Close()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a timing
	fed := false
	for !strings.Contains(h.stderr.String(), "config reloaded") {
		if !fed && strings.Contains(h.stderr.String(), "SIGHUP: reloading the config") {
			go feed() // the reload reads the file again
			fed = true
		}
		select {
		case err := <-h.done:
			t.Fatalf("a SIGHUP during the start ended tollgate (%v):\n%s", err, h.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload after a SIGHUP during the start:\n%s", h.stderr)
		}
	}
	if !strings.Contains(h.stderr.String(), "tollgate is serving") {
		t.Errorf("not serving:\n%s", h.stderr)
	}
	h.stop(t)
}
