package keys_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/keys"
)

// rewrite writes data to file and gives it the modification time at, so
// that the refresh sees a change however fast the test runs.
func rewrite(t *testing.T, file, data string, at time.Time) {
	t.Helper()
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestABrokenKeysFileIsReportedOnce: a keys file that turns bad while
// the gateway serves is warned about once, not at every refresh tick;
// again when it is rewritten still bad; and its mending is logged.
func TestABrokenKeysFileIsReportedOnce(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	if _, _, err := st.Create(keys.Spec{Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	file := exportTo(t, st)
	good, _ := os.ReadFile(file)
	var logs bytes.Buffer
	auth, err := keys.NewAuthenticator(keys.NewStore(t.TempDir()), file, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	ticks := func(n int) []string {
		t.Helper()
		logs.Reset()
		for range n {
			auth.Tick()
		}
		var lines []string
		for l := range strings.Lines(logs.String()) {
			_, msg, _ := strings.Cut(l, " msg=")
			lines = append(lines, strings.TrimSpace(msg))
		}
		return lines
	}
	warning := `"auth.keys_file does not read: the keys it held when it last read stay in force, with keys.db's as they are now (warned again when the file or the error changes)" err="auth.keys_file ` + file + `: `
	steps := []struct {
		name string
		data string // "" to leave the file as it is
		want []string
	}{
		{"nothing changes", "", nil},
		{"the file breaks", `[{"id": 5}]`, []string{warning + `entry 0: id: want a string, got 5"`}},
		{"it stays broken", "", nil},
		{"rewritten, still wrong the same way", `[{"id": 5} ]`, []string{warning + `entry 0: id: want a string, got 5"`}},
		{"wrong in another way", `[{"id": "key_1", "revokd": true}]`, []string{warning + `entry 0 (key_1): unknown key \"revokd\" (known: created, customer, expires, hash, hint, id, limits, metadata, models, name, revoked, source, team)"`}},
		{"mended", string(good), []string{`"the virtual keys read again; all of them are in force" keys=1`}},
		{"good since", "", nil},
		{"changed and good", string(good) + "\n", []string{`"virtual keys reloaded" keys=1`}},
	}
	for _, s := range steps {
		if s.data != "" {
			at = at.Add(time.Minute)
			rewrite(t, file, s.data, at)
		}
		if got := ticks(5); strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("%s: five ticks logged\n%s\nwant\n%s", s.name, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
		}
	}
}

// TestARevocationAppliesWhileTheKeysFileIsBroken: with the keys file
// broken, its last good keys stay in force, and keys.db's changes still
// take effect: a key revoked there is refused.
func TestARevocationAppliesWhileTheKeysFileIsBroken(t *testing.T) {
	other := keys.NewStore(t.TempDir()) // where the file's keys were made
	fileSecret, _, err := other.Create(keys.Spec{Customer: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	file := exportTo(t, other)
	st := keys.NewStore(t.TempDir())
	secret, k, err := st.Create(keys.Spec{Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := keys.NewAuthenticator(st, file, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, file, `[{"id": 5}]`, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Refresh(false); err == nil || !strings.Contains(err.Error(), "entry 0: id: want a string, got 5") {
		t.Errorf("Refresh = %v, want the keys file's error", err)
	}
	if _, err := auth.Authenticate(context.Background(), secret); !errors.Is(err, core.ErrAuth) {
		t.Errorf("a key revoked in keys.db while the keys file is broken: %v, want refused", err)
	}
	if _, err := auth.Authenticate(context.Background(), fileSecret); err != nil {
		t.Errorf("a key of the keys file as it last read: %v, want in force", err)
	}
	// Until the file reads again, Refresh says why it does not.
	if changed, err := auth.Refresh(false); changed || err == nil {
		t.Errorf("Refresh with nothing changed = %v, %v; want false and the keys file's error", changed, err)
	}
}

// TestADamagedStoreIsReportedOnce: keys.db that does not read is re-read
// at every tick, in case it is a passing failure, but warned about once.
func TestADamagedStoreIsReportedOnce(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	if _, _, err := st.Create(keys.Spec{Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	auth, err := keys.NewAuthenticator(st, "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.Path(), bytes.Repeat([]byte("garbage "), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		auth.Tick()
	}
	if n := strings.Count(logs.String(), "cannot re-read the virtual keys"); n != 1 || !strings.Contains(logs.String(), st.Path()) {
		t.Errorf("five ticks with keys.db damaged logged %d warnings, want 1 naming it:\n%s", n, logs.String())
	}
	if auth.Count() != 1 {
		t.Errorf("Count = %d, want the key loaded before", auth.Count())
	}
}
