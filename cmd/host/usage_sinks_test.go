package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/tracking"
)

// A --sink that names no sink is a mistake said with the sinks there are
// (exit 2), not a list, replay or purge of nothing; a sink the config has
// dropped but the file still holds events for, and one the config has
// added but no gateway has run with yet, are sinks.
func TestUsageCommandsRefuseASinkThatIsNot(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 3) // sink "down", no longer in the config
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s
admin_listen: ""
pipeline:
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - {type: jsonl, name: tracker, path: %[1]s/a.jsonl}
        - {type: jsonl, path: %[1]s/b.jsonl}
`, dir))
	const sinks = "the sinks are down, jsonl, tracker (the config's, and those the usage database holds events for)"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dead-letters", "--sink", "trackr"}, 2, `tollgate usage dead-letters: --sink "trackr": no such sink; ` + sinks + "\n"},
		{[]string{"replay", "--sink", "trackr"}, 2, `tollgate usage replay: --sink "trackr": no such sink; ` + sinks + "\n"},
		{[]string{"purge", "--sink", "trackr", "--yes"}, 2, `tollgate usage purge: --sink "trackr": no such sink; ` + sinks + "\n"},
		{[]string{"dead-letters", "--sink", "down"}, 0, "0 dead letters shown"},
		{[]string{"dead-letters", "--sink", "tracker"}, 0, "0 dead letters shown"},
		{[]string{"purge", "--sink", "jsonl", "--yes"}, 0, "0 dead letters deleted"},
		{[]string{"replay", "--sink", "down"}, 0, "0 dead letters moved back"},
		// An id that is no dead letter is a mistake too, and nothing moves.
		{[]string{"replay", "--id", "evt_typo"}, 1, `no such dead letter: "evt_typo"; nothing was changed`},
		{[]string{"purge", "--sink", "down", "--id", "evt_typo", "--yes"}, 1, `no such dead letter of sink "down": "evt_typo"; nothing was changed`},
	} {
		code, stdout, stderr := usageRun(append(tc.args, "--config", cfg)...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%q: exit %d, %s%s; want %d saying %q", tc.args, code, stdout, stderr, tc.code, tc.want)
		}
	}
}

// The admin API refuses the same with 400, naming the parameter, and the
// sinks in the answer's "sinks" too.
func TestAdminUsageRefusesASinkThatIsNot(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 1)
	db, err := tracking.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mux := http.NewServeMux()
	usageRoutes(mux, db, nil)
	for _, route := range []string{"GET /admin/usage/dead-letters", "POST /admin/usage/dead-letters/replay", "POST /admin/usage/dead-letters/purge"} {
		method, path, _ := strings.Cut(route, " ")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path+"?sink=trackr", nil))
		var body struct {
			Error string   `json:"error"`
			Sinks []string `json:"sinks"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		want := `sink "trackr": no such sink; the sinks are down (the config's, and those the usage database holds events for)`
		if rec.Code != http.StatusBadRequest || body.Error != want || strings.Join(body.Sinks, ",") != "down" {
			t.Errorf("%s: %d %s; want 400 saying %q", route, rec.Code, rec.Body, want)
		}
	}
	// An id that is no dead letter: 404, naming it.
	for _, path := range []string{"/admin/usage/dead-letters/replay", "/admin/usage/dead-letters/purge"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path+"?id=evt_typo", nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `no such dead letter: \"evt_typo\"`) {
			t.Errorf("POST %s?id=evt_typo: %d %s; want 404 naming the id", path, rec.Code, rec.Body)
		}
	}
}
