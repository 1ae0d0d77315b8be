package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// A reload (here by the file watcher) applies the new pipeline and nothing else: a data_dir moved in
// the file keeps the outbox, the ledger and the keys where they were until
// a restart, as the log says, and /admin/config shows the settings in force
// with where each was set.
func TestReloadKeepsTheSettingsThatNeedARestart(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, opsConfig, "E2E_OPENAI_KEY="+plantedKey)
	if code, body := opsCall(t, h.url+"/v1/chat/completions", chat); code != 200 {
		t.Fatalf("before the reload: %d %s", code, body)
	}
	moved := filepath.Join(h.dir, "moved")
	// A line more above data_dir: the new file's line numbers differ.
	next := strings.Replace(opsConfig, "data_dir: {{DIR}}", "# moved\ndata_dir: "+moved, 1)
	next = strings.Replace(next, "{name: validate, kind: builtin}", "{name: validate, kind: builtin, config: {max_body_bytes: 65536}}", 1)
	h.write(t, next)
	opsWait(t, 20*time.Second, "the reload", func() bool {
		return strings.Contains(scrape(t, h.admin), `tollgate_config_reloads_total{result="success"} 1`)
	})
	if !strings.Contains(h.stderr.String(), `"keys":["data_dir"]`) {
		t.Errorf("no warning that data_dir takes effect at restart:\n%s", h.stderr)
	}
	if code, body := opsCall(t, h.url+"/v1/chat/completions", chat); code != 200 {
		t.Fatalf("after the reload: %d %s", code, body)
	}
	if _, err := os.Stat(moved); !os.IsNotExist(err) {
		t.Errorf("the reloaded pipeline used the data_dir of the new file before a restart (stat: %v)", err)
	}

	shown := adminText(t, h.admin+"/admin/config")
	for _, want := range []string{
		"# The configuration in force, loaded by the reload at ",
		"# The file sets other values for data_dir: they take effect at restart.\n",
		fmt.Sprintf("data_dir: %s # %s:4\n", h.dir, h.path),     // in force, from the file as it was at start
		fmt.Sprintf("max_body_bytes: 65536 # %s:11\n", h.path),  // the reloaded pipeline, from the new file
		fmt.Sprintf("base_url: %s/v1 # %s:7\n", up.URL, h.path), // providers stay until restart
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("/admin/config lacks %q:\n%s", want, shown)
		}
	}
	// A rejected reload says so, and the config in force stays.
	h.write(t, next+"lisen: oops\n")
	opsWait(t, 20*time.Second, "the rejected reload", func() bool {
		return strings.Contains(scrape(t, h.admin), `tollgate_config_reloads_total{result="failure"} 1`)
	})
	shown = adminText(t, h.admin+"/admin/config")
	for _, want := range []string{"was rejected (GET /readyz says why); this configuration keeps serving", "max_body_bytes: 65536 #", "for data_dir: they"} {
		if !strings.Contains(shown, want) {
			t.Errorf("/admin/config after a rejected reload lacks %q:\n%s", want, shown)
		}
	}
	h.stop(t)
	if evs := h.events(t); len(evs) != 2 {
		t.Errorf("%d usage events for 2 calls", len(evs))
	}
}

// adminText gets an admin URL and returns its body, failing on a status
// other than 200.
func adminText(t *testing.T, url string) string {
	t.Helper()
	code, body := adminGet(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}

// A reload whose pipeline names a provider the same file adds is rejected
// (providers change at restart), and the rejection says why the provider
// is "not configured" although the file configures it.
func TestReloadNamingANewProviderSaysProvidersWaitForARestart(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, opsConfig, "E2E_OPENAI_KEY="+plantedKey)
	next := strings.Replace(opsConfig, "  anthropic:", "  second: {type: openai, base_url: {{UP}}/v1, api_key_env: E2E_OPENAI_KEY}\n  anthropic:", 1)
	next = strings.Replace(next, "  - {name: call, kind: builtin}", "  - {name: fallback, kind: builtin, config: {targets: [second]}}\n  - {name: call, kind: builtin}", 1)
	h.write(t, next)
	opsWait(t, 20*time.Second, "the rejected reload", func() bool {
		return strings.Contains(scrape(t, h.admin), `tollgate_config_reloads_total{result="failure"} 1`)
	})
	for _, want := range []string{`upstream \"second\" is not configured`,
		"providers: the file changes them, and they change only at restart: the new pipeline was built with the providers in force (anthropic, openai)"} {
		if !strings.Contains(h.stderr.String(), want) {
			t.Errorf("the rejection lacks %q:\n%s", want, h.stderr)
		}
	}
}
