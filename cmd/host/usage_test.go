package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
	"github.com/tollgate-dev/tollgate/tracking"
	"github.com/tollgate-dev/tollgate/tracking/trackertest"
)

const trackerToken = "trk-e2e-token-5b7f1e"

// usageHost is a gateway whose track stage posts to a fake tracker.
type usageHost struct {
	*host
	dir, config string
	env         []string
	// write writes the config for a pair of addresses.
	write func(listen, admin string) (path string)
}

// writeUsageConfig writes a config whose track stage delivers to tr, with
// retries fast enough for tests, and returns its path.
func writeUsageConfig(t *testing.T, dir, upstreamURL string, tr *trackertest.Server, gw, admin string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
listen: %s
admin_listen: %s
data_dir: %s
log: {level: info, format: json}
server: {shutdown_timeout: 5s}
providers:
  openai: {base_url: %s/v1, api_key_env: E2E_OPENAI_KEY}
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - type: http
          name: tracker
          url: %s
          token_env: E2E_TRACKER_TOKEN
          batch: {max_events: 10, max_age: 20ms}
          retry: {initial: 10ms, max: 100ms, max_attempts: 100000}
`, gw, admin, dir, upstreamURL, tr.EventsURL())
	return writeConfig(t, dir, cfg)
}

// startUsageHost starts (or restarts, on the same data dir) the binary,
// on two fresh addresses: the config is written again for them.
func startUsageHost(t *testing.T, u *usageHost) *host {
	t.Helper()
	h := &host{}
	h.start(t, u.env, func(listen, admin string) string {
		u.config = u.write(listen, admin)
		return u.config
	})
	return h
}

func newUsageHost(t *testing.T, tr *trackertest.Server) *usageHost {
	t.Helper()
	up := providertest.NewServer(t)
	dir := t.TempDir()
	u := &usageHost{dir: dir, env: []string{"E2E_OPENAI_KEY=" + plantedKey, "E2E_TRACKER_TOKEN=" + trackerToken}}
	u.write = func(listen, admin string) string { return writeUsageConfig(t, dir, up.URL, tr, listen, admin) }
	u.host = startUsageHost(t, u)
	return u
}

// call makes one chat call for customer and returns the usage event id.
func call(t *testing.T, h *host, customer string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"count me"}]}`))
	req.Header.Set("X-Tollgate-Customer", customer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("call answered %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Tollgate-Id")
}

// outbox reads the outbox's state from the admin listener.
func outbox(t *testing.T, h *host) tracking.Stats {
	t.Helper()
	resp, err := http.Get(h.admin + "/admin/usage/outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Stats tracking.Stats `json:"stats"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return body.Stats
}

// TestSIGKILLLosesNoAcceptedEvent kills the gateway while the tracker is
// down, restarts it, brings the tracker back, and counts distinct event ids
// at the tracker: every event the outbox had accepted (persisted) before the
// kill arrives. "Accepted" is read from the gateway itself (the outbox's
// persisted count), not assumed from the answers.
func TestSIGKILLLosesNoAcceptedEvent(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Token = trackerToken
	tr.Down(http.StatusServiceUnavailable)
	u := newUsageHost(t, tr)

	const n = 60
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				ids[i] = call(t, u.host, "acme")
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for outbox(t, u.host).Persisted < n {
		if time.Now().After(deadline) {
			t.Fatalf("the outbox persisted %d of %d events", outbox(t, u.host).Persisted, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := outbox(t, u.host); st.Sinks[0].Queued != n || !st.Sinks[0].Failing {
		t.Fatalf("before the kill: %+v", st.Sinks[0])
	}

	u.cmd.Process.Kill() // SIGKILL: no shutdown, no flush
	<-u.done
	u.done <- nil
	if tr.Distinct() != 0 {
		t.Fatalf("the tracker got %d events while down", tr.Distinct())
	}

	tr.Up()
	u.host = startUsageHost(t, u)
	if !tr.WaitDistinct(n, 20*time.Second) {
		t.Fatalf("after the restart the tracker has %d of %d events\n%s", tr.Distinct(), n, u.stderr)
	}
	for _, id := range ids {
		if !tr.Has(id) {
			t.Errorf("event %s was accepted before the kill and never delivered", id)
		}
	}
	for _, ev := range tr.Events() {
		if ev.CustomerID != "acme" || ev.Cost == nil || ev.Cost.String() == "0" {
			t.Errorf("event %s: customer %q cost %v", ev.ID, ev.CustomerID, ev.Cost)
		}
	}
	u.stop(t)
}

func TestCorruptOutboxRefusesToStartAndRecovers(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Token = trackerToken
	u := newUsageHost(t, tr)
	call(t, u.host, "acme")
	u.stop(t)

	path := filepath.Join(u.dir, tracking.FileName)
	data, _ := os.ReadFile(path)
	for i := 0; i < 2*4096; i += 512 { // both meta pages
		copy(data[i+16:], "scribbled over by a bad disk")
	}
	os.WriteFile(path, data, 0o600)

	out, err := exec.Command(binary, "serve", "--config", u.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "corrupt") || !strings.Contains(string(out), "tollgate usage recover --config") {
		t.Fatalf("serve on a damaged outbox: %v\n%s", err, out)
	}
	// Nothing can be read past both meta pages: recover fails (exit 1)
	// and says so, rather than pass the moved file for a recovered one.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"usage", "recover", "--config", u.config}, &stdout, &stderr); code != 1 {
		t.Fatalf("recover exit %d: %s%s; want 1", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "the old file is kept at") || !strings.Contains(stderr.String(), "nothing could be read from ") ||
		!strings.Contains(stderr.String(), "both of its meta pages") {
		t.Errorf("recover said: %s%s", stdout.String(), stderr.String())
	}
	u.host = startUsageHost(t, u) // starts again, on the new, empty file
	u.stop(t)
}

func TestUsageCommandsAndAdminEndpoints(t *testing.T) {
	tr := trackertest.NewServer(t)
	tr.Token = trackerToken
	tr.Down(http.StatusBadRequest) // the tracker refuses: dead letters
	u := newUsageHost(t, tr)
	for range 3 {
		call(t, u.host, "acme")
	}
	call(t, u.host, "globex")
	deadline := time.Now().Add(10 * time.Second)
	for outbox(t, u.host).Sinks[0].DeadLetters < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letters: %+v", outbox(t, u.host))
		}
		time.Sleep(5 * time.Millisecond)
	}
	usage := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"usage"}, append(args, "--config", u.config)...), &out, &errOut)
		return code, out.String() + errOut.String()
	}

	// While the gateway runs, the commands go through its admin listener.
	code, out := usage("dead-letters")
	if code != 0 || strings.Count(out, "the tracker answered 400") != 4 {
		t.Errorf("dead-letters: %d\n%s", code, out)
	}
	code, out = usage("report", "--customer", "acme", "--group-by", "model")
	if code != 0 || !strings.Contains(out, "gpt-4o-mini") || !strings.Contains(out, "TOTAL") {
		t.Errorf("report: %d\n%s", code, out)
	}
	resp, err := http.Get(u.admin + "/admin/usage?customer=globex&from=2020-01-01&to=2100-01-01&group_by=day")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows  []map[string]any `json:"rows"`
		Total struct {
			Requests int64           `json:"requests"`
			Cost     json.RawMessage `json:"cost"`
		} `json:"total"`
	}
	json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if rep.Total.Requests != 1 || len(rep.Rows) != 1 || rep.Rows[0]["day"] == nil || string(rep.Total.Cost) == "0" {
		t.Errorf("/admin/usage = %+v", rep)
	}
	resp, _ = http.Get(u.admin + "/admin/usage?group_by=week")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad group_by answered %d", resp.StatusCode)
	}
	resp.Body.Close()
	// A misspelt, empty or repeated filter is refused, not dropped or read
	// as "all": these purges would have deleted every sink's dead letters,
	// or one sink's of two (the replay below counts them).
	for _, bad := range []struct{ method, path, want string }{
		{http.MethodPost, "/admin/usage/dead-letters/purge?snk=tracker", `unknown parameter \"snk\": /admin/usage/dead-letters/purge takes sink, id`},
		{http.MethodPost, "/admin/usage/dead-letters/purge?sink=", `parameter \"sink\" is empty: to not filter by it, leave it out`},
		{http.MethodPost, "/admin/usage/dead-letters/purge?sink=tracker&sink=jsonl", `parameter \"sink\" is given 2 times (tracker, jsonl): it takes one value`},
		{http.MethodPost, "/admin/usage/dead-letters/purge?id=", `parameter \"id\" is empty`},
		{http.MethodPost, "/admin/usage/dead-letters/replay?sink=tracker&sink=tracker", `parameter \"sink\" is given 2 times`},
		{http.MethodGet, "/admin/usage?costumer=acme", `unknown parameter \"costumer\": /admin/usage takes customer, from, to, group_by`},
		{http.MethodGet, "/admin/usage?customer=", `parameter \"customer\" is empty`},
		{http.MethodGet, "/admin/usage?from=2020-01-01&from=2030-01-01", `parameter \"from\" is given 2 times`},
		{http.MethodGet, "/admin/usage/dead-letters?limit=ten", `limit: want a count of 0 or more (0: all), got \"ten\"`},
		{http.MethodGet, "/admin/usage/dead-letters?limit=1&limit=2", `parameter \"limit\" is given 2 times (1, 2): it takes one value`},
		// A sink that is not: a typo, not "0 purged".
		{http.MethodPost, "/admin/usage/dead-letters/purge?sink=trackr", `sink \"trackr\": no such sink; the sinks are tracker (`},
		{http.MethodGet, "/admin/usage/dead-letters?sink=trackr", `sink \"trackr\": no such sink; the sinks are tracker (`},
	} {
		req, _ := http.NewRequest(bad.method, u.admin+bad.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), bad.want) {
			t.Errorf("%s %s answered %d %s; want 400 saying %s", bad.method, bad.path, resp.StatusCode, body, bad.want)
		}
	}

	// The commands refuse the same before they ask.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"purge", "--sink", "", "--yes"}, `invalid argument "" for "--sink" flag: empty; to not filter by it, leave the flag out`},
		{[]string{"purge", "--sink", "tracker", "--sink", "jsonl", "--yes"}, `invalid argument "jsonl" for "--sink" flag: given twice (first "tracker"); it takes one value`},
		{[]string{"purge", "--id=", "--yes"}, `invalid argument "" for "--id" flag: empty`},
		{[]string{"replay", "--sink", "jsonl", "--sink", "tracker"}, `for "--sink" flag: given twice`},
		{[]string{"dead-letters", "--limit", "1", "--limit", "2"}, `for "--limit" flag: given twice (first "1")`},
		{[]string{"report", "--customer", ""}, `for "--customer" flag: empty`},
		{[]string{"report", "--group-by", "model", "--group-by", "day"}, `for "--group-by" flag: given twice`},
		// The gateway refuses this one; the command says it with the flag.
		{[]string{"purge", "--sink", "trackr", "--yes"}, `tollgate usage purge: --sink "trackr": no such sink; the sinks are tracker (`},
		{[]string{"report", "--from", "yesterday"}, `tollgate usage report: from: want a day like 2026-03-01, got "yesterday"`},
	} {
		if code, out := usage(bad.args...); code != 2 || !strings.Contains(out, bad.want) {
			t.Errorf("usage %q: exit %d, %s; want 2 saying %s", bad.args, code, out, bad.want)
		}
	}

	tr.Up()
	if code, out := usage("replay", "--sink", "tracker"); code != 0 || !strings.Contains(out, "4 dead letters moved") {
		t.Errorf("replay: %d %s", code, out)
	}
	if !tr.WaitDistinct(4, 10*time.Second) {
		t.Fatalf("replayed events did not arrive: %d", tr.Distinct())
	}
	u.stop(t)

	// Stopped, the commands read the file.
	code, out = usage("report", "--group-by", "customer", "--json")
	if code != 0 || !strings.Contains(out, `"customer": "globex"`) {
		t.Errorf("offline report: %d\n%s", code, out)
	}
	code, out = usage("status")
	if code != 0 || !strings.Contains(out, "tracker") {
		t.Errorf("offline status: %d\n%s", code, out)
	}
	if code, out := usage("purge"); code != 2 || !strings.Contains(out, "--yes") {
		t.Errorf("purge without --yes: %d %s", code, out)
	}
}

// usageRun runs `tollgate usage ARGS…` in this process.
func usageRun(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"usage"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// dirNames lists dir's names, to show what a command created or moved.
func dirNames(t *testing.T, dir string) string {
	t.Helper()
	des, _ := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return strings.Join(names, ",")
}

// recover turns an empty file into a new database (exit 0), and refuses a
// directory or a missing file (exit 1) without moving or creating anything.
func TestUsageRecoverWithoutADatabase(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(path string) // path is dir/usage.db
		code    int
		want    string
		dirWill string // the data dir's names afterwards
	}{
		{name: "an empty file", setup: func(path string) { os.WriteFile(path, nil, 0o600) },
			want: "usage.db was empty: nothing was in it, and it is now a new usage database", dirWill: "usage.db"},
		{name: "a directory", setup: func(path string) { os.Mkdir(path, 0o700) }, code: 1,
			want: "usage.db is a directory, not a usage database: nothing was done", dirWill: "usage.db"},
		{name: "no file", setup: func(string) {}, code: 1,
			want: "no usage database at ", dirWill: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(filepath.Join(dir, tracking.FileName))
			code, stdout, stderr := usageRun("recover", "--data-dir", dir)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, %s%s; want %d saying %q", code, stdout, stderr, tc.code, tc.want)
			}
			if got := dirNames(t, dir); got != tc.dirWill {
				t.Errorf("the data dir holds %q; want %q", got, tc.dirWill)
			}
		})
	}
}

// A data dir with no usage database is said, and left as it was: the
// commands that read, and those that write, create nothing.
func TestUsageCommandsWithoutADatabase(t *testing.T) {
	for _, sub := range [][]string{{"status"}, {"report"}, {"dead-letters"}, {"replay"}, {"purge", "--yes"}} {
		t.Run(sub[0], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "nonexist_ud")
			code, stdout, stderr := usageRun(append(sub, "--data-dir", dir, "--admin-listen", "")...)
			want := "no usage database at " + filepath.Join(dir, tracking.FileName) + " (is data_dir right?)"
			if code != 1 || !strings.Contains(stderr, want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the command created %s (%v)", dir, err)
			}
		})
	}
	t.Run("default data dir", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if code, _, stderr := usageRun("status"); code != 1 || !strings.Contains(stderr, "no usage database at ") {
			t.Errorf("exit %d, %s", code, stderr)
		}
		if names := dirNames(t, "."); names != "" {
			t.Errorf("status created %s", names)
		}
	})
	t.Run("an empty file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, tracking.FileName), nil, 0o600)
		if code, _, stderr := usageRun("status", "--data-dir", dir); code != 1 || !strings.Contains(stderr, "usage.db: the file is empty") {
			t.Errorf("exit %d, %s", code, stderr)
		}
		if fi, _ := os.Stat(filepath.Join(dir, tracking.FileName)); fi.Size() != 0 {
			t.Errorf("status wrote %d bytes into the empty file", fi.Size())
		}
	})
}
