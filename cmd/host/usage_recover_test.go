package main

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking"
)

// downSink refuses every write: its events stay queued.
type downSink struct{}

func (downSink) Write(context.Context, []*core.UsageEvent) error { return errors.New("down") }
func (downSink) Close() error                                    { return nil }

// queuedEvents writes a usage database in dir whose sink "down" holds n
// queued events, and returns their ids in order.
func queuedEvents(t *testing.T, dir string, n int) []string {
	t.Helper()
	db, err := tracking.Open(dir, tracking.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Ledger: true, Sinks: []tracking.SinkConfig{{Name: "down", Sink: downSink{},
		Retry: tracking.RetryPolicy{Initial: time.Hour, Max: time.Hour, MaxAttempts: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("ev-recover-%06d", i)
		ob.Enqueue(&core.UsageEvent{ID: ids[i], Timestamp: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC), CustomerID: "acme",
			Provider: "openai", Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 5, TotalTokens: 15, Status: core.StatusOK, HTTPStatus: 200})
	}
	if err := ob.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return ids
}

// scribble writes over the usage database of dir at each offset pages
// finds in it.
func scribble(t *testing.T, dir string, pages func(data []byte) []int) {
	t.Helper()
	path := filepath.Join(dir, tracking.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range pages(data) {
		copy(data[at:], "scribbled over by a bad disk")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// recover says what it copied and what it could not read, and its exit
// status tells a script which: 0 all of it, 3 part of it, 1 none of it.
func TestUsageRecoverSaysWhatItCouldNotRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(ids []string) func(data []byte) []int
		code   int
		stdout []string
		stderr []string
	}{
		{name: "a healthy file", damage: func([]string) func([]byte) []int { return func([]byte) []int { return nil } },
			stdout: []string{"copied queues/down", "200 entries", "queued events and dead letters: 200 copied; nothing was lost"}},
		{name: "a damaged page", code: 3,
			damage: func(ids []string) func([]byte) []int {
				return func(data []byte) []int { // every page that holds event 100: the leaf in use among them
					var at []int
					for from := 0; ; {
						i := bytes.Index(data[from:], []byte(ids[100]))
						if i < 0 {
							return at
						}
						page := (from + i) / 4096 * 4096
						at = append(at, page+2)
						from = page + 4096
					}
				}
			},
			stdout: []string{"  lost: queues/down: up to ", " could not be read: a damaged page after entry ", "queued events and dead letters: ", " copied, up to "},
			stderr: []string{"tollgate usage recover: recovered in part (exit 3): not everything could be read", "the damaged file is kept at ", "Start tollgate: what was copied is delivered"}},
		{name: "both meta pages damaged", code: 1,
			damage: func([]string) func([]byte) []int { return func([]byte) []int { return []int{16, 4096 + 16} } },
			stdout: []string{"the old file is kept at "},
			stderr: []string{"tollgate usage recover: nothing could be read from ", "usage.db.damaged-",
				": both of its meta pages, the first two pages of the file, which say where everything else is, are damaged",
				"None of its queued events, dead letters or ledger rows is in the new, empty ",
				"With a backup of usage.db: stop tollgate, copy the backup over "}},
		{name: "the root page damaged", code: 1,
			damage: func([]string) func([]byte) []int {
				return func(data []byte) []int { // the root each meta page points to
					return []int{int(binenc.LittleEndian.Uint64(data[32:]))*4096 + 2, int(binenc.LittleEndian.Uint64(data[4096+32:]))*4096 + 2}
				}
			},
			stdout: []string{"the old file is kept at ", "  lost: queues: the list of sinks could not be read"},
			stderr: []string{"tollgate usage recover: nothing could be read from ", ": not one entry could be read; the first problem: queues: ",
				"None of its queued events, dead letters or ledger rows is in the new, empty "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			scribble(t, dir, tc.damage(queuedEvents(t, dir, 200)))
			code, stdout, stderr := usageRun("recover", "--data-dir", dir)
			if code != tc.code {
				t.Errorf("exit %d; want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not say %q:\n%s", want, stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if len(tc.stderr) == 0 && stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

// With --json, recover prints its report: what a script reads the counts from.
func TestUsageRecoverJSON(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 20)
	code, stdout, stderr := usageRun("recover", "--data-dir", dir, "--json")
	if code != 0 || !strings.Contains(stdout, `"queues/down": 20`) || !strings.Contains(stdout, `"moved_to": `) || stderr != "" {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// A usage database cut short (a copy or a restore that did not finish, a
// disk that filled) is refused with the recovery command like any other
// damage, by the gateway and by the commands that open it to write. bbolt
// maps the file: a page read past its end would kill the process with
// SIGBUS, which no recover() catches.
func TestCutShortOutboxIsRefused(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 200)
	if err := os.Truncate(filepath.Join(dir, tracking.FileName), 3*4096); err != nil {
		t.Fatal(err)
	}
	config := writeConfig(t, dir, fmt.Sprintf(`
listen: 127.0.0.1:0
admin_listen: ""
data_dir: %s
pipeline:
  - {name: call, kind: builtin}
`, dir))
	for _, args := range [][]string{
		{"serve", "--config", config},
		{"usage", "purge", "--yes", "--data-dir", dir},
		{"usage", "status", "--data-dir", dir},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "is cut short") ||
			!strings.Contains(string(out), "tollgate usage recover") {
			t.Errorf("tollgate %s on a cut-short usage.db: %v, want exit 1 naming the damage and the recovery command:\n%.2000s",
				strings.Join(args, " "), err, out)
		}
	}
}
