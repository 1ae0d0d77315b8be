package keys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/keys"
)

// exportTo writes the store's keys to a keys file, as `tollgate keys
// export` does, and returns its path.
func exportTo(t *testing.T, st *keys.Store) string {
	t.Helper()
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(list)
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRevocationWinsOverTheKeysFile(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	secret, k, err := st.Create(keys.Spec{Customer: "acme", Limits: core.Limits{RequestsPerMinute: 5}})
	if err != nil {
		t.Fatal(err)
	}
	file := exportTo(t, st) // before the revocation: the file says the key is valid
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	auth, err := keys.NewAuthenticator(st, file, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(context.Background(), secret); !errors.Is(err, core.ErrAuth) {
		t.Errorf("a key revoked in the store and valid in the keys file: %v, want refused", err)
	}
	if auth.Count() != 1 || auth.Limited() != 0 {
		t.Errorf("Count, Limited = %d, %d; want 1 key, none limited (it is revoked)", auth.Count(), auth.Limited())
	}
	if !strings.Contains(logs.String(), "auth.keys_file still lists a key that keys.db has revoked") ||
		!strings.Contains(logs.String(), "key_id="+k.ID) {
		t.Errorf("no warning about the stale keys file:\n%s", logs.String())
	}
}

func TestRevocationInTheKeysFileWins(t *testing.T) {
	// The other way round: this replica's store has the key active; the
	// file was exported after it was revoked elsewhere.
	st := keys.NewStore(t.TempDir())
	secret, _, err := st.Create(keys.Spec{Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := st.List()
	revoked := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	list[0].Revoked = &revoked
	data, _ := json.Marshal(list)
	file := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(file, data, 0o600)
	var logs bytes.Buffer
	auth, err := keys.NewAuthenticator(st, file, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(context.Background(), secret); !errors.Is(err, core.ErrAuth) {
		t.Errorf("a key revoked in the keys file and valid in the store: %v, want refused", err)
	}
	if strings.Contains(logs.String(), "still lists") {
		t.Errorf("warned about a file newer than the store:\n%s", logs.String())
	}
}

func TestMerge(t *testing.T) {
	at := func(day int) *time.Time {
		t := time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC)
		return &t
	}
	key := func(id, hash string, created int, revoked, expires *time.Time) keys.Key {
		return keys.Key{ID: id, Hash: hash, Created: *at(created), Revoked: revoked, Expires: expires, Name: "from " + id}
	}
	h1, h2, h3 := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	store := []keys.Key{
		key("k1", h1, 1, at(5), nil),  // revoked here, valid in the file: stale
		key("k2", h2, 2, nil, at(20)), // expires later here than in the file
		key("k3", h3, 3, nil, nil),    // only here
	}
	file := []keys.Key{
		key("f4", strings.Repeat("d", 64), 0, nil, nil), // only in the file, the oldest
		key("f1", strings.ToUpper(h1), 1, nil, nil),     // the same hash, in capitals
		key("f2", h2, 2, at(9), at(10)),
	}
	all, stale := keys.Merge(store, file)
	var got []string
	for _, l := range all {
		s := l.ID + " " + l.Source + " " + l.Name
		if l.Revoked != nil {
			s += " revoked " + l.Revoked.Format(time.DateOnly)
		}
		if l.Expires != nil {
			s += " expires " + l.Expires.Format(time.DateOnly)
		}
		got = append(got, s)
	}
	want := []string{
		"f4 file from f4",
		"k1 both from k1 revoked 2026-01-05",
		"k2 both from k2 revoked 2026-01-09 expires 2026-01-10",
		"k3 store from k3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Merge =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(stale) != 1 || stale[0] != "k1" {
		t.Errorf("stale = %v, want [k1]", stale)
	}
}

func TestReadFileSaysWhereItIsWrong(t *testing.T) {
	good := `{"id":"key_1","hash":"` + strings.Repeat("ab", 32) + `","limits":{}}`
	tests := []struct {
		name, data, want string
	}{
		{"empty", " \n", "the file is empty: want a JSON array of keys (tollgate keys export), [] for none"},
		{"not JSON", `[{"id": "key_1"`, "not valid JSON: unexpected end of JSON input, at byte 15"},
		{"not an array", `{"keys": []}`, "want a JSON array of keys (tollgate keys export), got an object"},
		{"an entry not an object", `[` + good + `, 5]`, "entry 1: want an object, got 5"},
		{"an id not a string", `[{"id": 5}]`, "entry 0: id: want a string, got 5"},
		{"a limit not a number", `[{"id": "key_1", "limits": {"tokens_per_minute": "many"}}]`,
			`entry 0 (key_1): limits.tokens_per_minute: want a whole number, got "many"`},
		{"a limit too large", `[{"id": "key_1", "limits": {"tokens_per_minute": 9223372036854775808}}]`,
			`entry 0 (key_1): limits.tokens_per_minute: want a whole number, got 9223372036854775808`},
		{"a budget", `[{"id": "key_1", "limits": {"monthly_budget": "lots"}}]`,
			`entry 0 (key_1): limits.monthly_budget: not a dollar amount: "lots"`},
		{"a model", `[{"id": "key_1", "models": ["gpt-4o", 4]}]`, "entry 0 (key_1): models[1]: want a string, got 4"},
		{"a metadata value", `[{"id": "key_1", "metadata": {"env": ["prod"]}}]`, `entry 0 (key_1): metadata.env: want a string, got ["prod"]`},
		{"a time", `[{"id": "key_1", "revoked": "yesterday"}]`,
			`entry 0 (key_1): revoked: want a time such as 2026-01-02T15:04:05Z, got "yesterday"`},
		{"no id", `[{"hash": "` + strings.Repeat("ab", 32) + `"}]`, "entry 0: id: missing"},
		{"a short hash", `[{"id": "key_1", "hash": "abc"}]`, `entry 0 (key_1): hash: want 64 hex digits (the key's SHA-256), got "abc"`},
		{"a hash not hex", `[{"id": "key_1", "hash": "` + strings.Repeat("zz", 32) + `"}]`,
			`entry 0 (key_1): hash: want 64 hex digits (the key's SHA-256), got "zzzz`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "kf.json")
			os.WriteFile(file, []byte(tt.data), 0o600)
			_, err := keys.ReadFile(file)
			prefix := "auth.keys_file " + file + ": "
			if err == nil || !strings.HasPrefix(err.Error(), prefix+tt.want) {
				t.Errorf("ReadFile = %v\nwant %s%s", err, prefix, tt.want)
			}
		})
	}
	if _, err := keys.ReadFile(filepath.Join(dir, "nope.json")); err == nil || !strings.HasPrefix(err.Error(), "auth.keys_file: open ") {
		t.Errorf("ReadFile of a missing file = %v", err)
	}
}

// TestReadFileRefusesAnUnknownKey: a typo in an entry ("revokd") is an
// error naming the file, the entry and the key, as POST /admin/keys
// refuses it: ignored, it left valid a key the file meant to revoke. So is
// a key given twice.
func TestReadFileRefusesAnUnknownKey(t *testing.T) {
	const known = "(known: created, customer, expires, hash, hint, id, limits, metadata, models, name, revoked, source, team)"
	hash := `"hash":"` + strings.Repeat("ab", 32) + `"`
	tests := []struct{ name, data, want string }{
		{"revoked, misspelt", `[{"id":"key_1",` + hash + `},{"id":"key_2",` + hash + `,"revokd":"2026-01-02T00:00:00Z"}]`,
			`entry 1 (key_2): unknown key "revokd" ` + known},
		{"expires, misspelt", `[{"id":"key_1",` + hash + `,"expires_att":"2026-01-02T00:00:00Z"}]`,
			`entry 0 (key_1): unknown key "expires_att" ` + known},
		{"in limits", `[{"id":"key_1",` + hash + `,"limits":{"rpm":5}}]`,
			`entry 0 (key_1): limits: unknown key "rpm" (known: monthly_budget, requests_per_minute, tokens_per_minute)`},
		{"no id to name the entry by", `[{"revokd":true}]`, `entry 0: unknown key "revokd" ` + known},
		// encoding/json took the last: the key was left valid.
		{"revoked, then not", `[{"id":"key_1",` + hash + `,"revoked":"2026-01-02T00:00:00Z","revoked":null}]`,
			`entry 0 (key_1): revoked: given twice`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "kf.json")
			os.WriteFile(file, []byte(tt.data), 0o600)
			_, err := keys.ReadFile(file)
			if want := "auth.keys_file " + file + ": " + tt.want; err == nil || err.Error() != want {
				t.Errorf("ReadFile = %v\nwant %s", err, want)
			}
		})
	}
	// The admin API refuses the same mistake the same way.
	if _, err := keys.ParseSpec([]byte(`{"customer":"a","limits":{"rpm":5}}`)); err == nil ||
		!strings.HasSuffix(err.Error(), `limits: unknown key "rpm" (known: monthly_budget, requests_per_minute, tokens_per_minute)`) {
		t.Errorf("ParseSpec = %v", err)
	}
}

// TestReadFileReadsWhatTheCommandsWrite: what `tollgate keys export`
// writes reads back, and so does `keys list --json`, which adds each key's
// source.
func TestReadFileReadsWhatTheCommandsWrite(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	_, k, err := st.Create(keys.Spec{Name: "ci", Customer: "acme", Models: []string{"gpt-4o*"}, Limits: core.Limits{RequestsPerMinute: 5},
		Metadata: map[string]string{"env": "prod"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	file := exportTo(t, st)
	if ks, err := keys.ReadFile(file); err != nil || len(ks) != 1 || ks[0].ID != k.ID || ks[0].Expires == nil {
		t.Errorf("ReadFile of an export = %+v, %v", ks, err)
	}
	list, _ := st.List()
	all, _ := keys.Merge(list, nil)
	data, _ := json.Marshal(all)
	os.WriteFile(file, data, 0o600)
	if ks, err := keys.ReadFile(file); err != nil || len(ks) != 1 || ks[0].ID != k.ID {
		t.Errorf("ReadFile of keys list --json = %+v, %v", ks, err)
	}
}

func TestAKeysFileThatBreaksWhileServing(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	secret, _, err := st.Create(keys.Spec{Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	file := exportTo(t, st)
	auth, err := keys.NewAuthenticator(keys.NewStore(t.TempDir()), file, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte(`[{"id": 5}]`), 0o600)
	if _, err := auth.Refresh(true); err == nil || err.Error() != "auth.keys_file "+file+": entry 0: id: want a string, got 5" {
		t.Errorf("Refresh = %v", err)
	}
	if _, err := auth.Authenticate(context.Background(), secret); err != nil {
		t.Errorf("the keys loaded before stay in force: %v", err)
	}
}
