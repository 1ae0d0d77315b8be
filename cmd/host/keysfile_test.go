package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// TestKeysFileAndStore runs a gateway that reads its keys from keys.db and
// auth.keys_file at once, as the tester's replica did.
func TestKeysFileAndStore(t *testing.T) {
	up := providertest.NewServer(t)
	file := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(file, []byte(`[]`), 0o600)
	cfg := opsConfig + "auth: {virtual_keys: true, keys_file: " + file + ", refresh_interval: 50ms}\n"
	h := startOps(t, up.URL, cfg, "E2E_OPENAI_KEY="+plantedKey)
	url := h.url + "/v1/chat/completions"

	// A key of the store, exported to the keys file; and a key only in
	// the file, made elsewhere.
	key, _ := h.createKey(t, "--customer", "acme")
	exported, stderr, err := h.tollgate(t, "keys", "export")
	if err != nil {
		t.Fatalf("keys export: %v\n%s", err, stderr)
	}
	var ks []map[string]any
	if err := json.Unmarshal([]byte(exported), &ks); err != nil || len(ks) != 1 {
		t.Fatalf("keys export wrote %s (%v)", exported, err)
	}
	id := ks[0]["id"].(string)
	fileKey := "tg-" + strings.Repeat("f", 43)
	sum := sha256.Sum256([]byte(fileKey))
	ks = append(ks, map[string]any{"id": "key_fromfile", "hint": "tg-ffff…", "hash": hex.EncodeToString(sum[:]),
		"customer": "globex", "limits": map[string]any{}, "created": "2026-01-02T00:00:00Z"})
	data, _ := json.Marshal(ks)
	os.WriteFile(file, data, 0o600)
	opsWait(t, 10*time.Second, "both keys to work", func() bool {
		a, _ := opsCall(t, url, chat, "Authorization", "Bearer "+key)
		b, _ := opsCall(t, url, chat, "Authorization", "Bearer "+fileKey)
		return a == 200 && b == 200
	})

	// keys list and GET /admin/keys show both, saying where each comes from.
	out, _, err := h.tollgate(t, "keys", "list")
	if err != nil || !strings.Contains(out, "SOURCE") || !lineHas(out, id, "active", "both") || !lineHas(out, "key_fromfile", "globex", "file") {
		t.Errorf("keys list: %v\n%s", err, out)
	}
	code, body := adminGet(t, h.admin+"/admin/keys")
	if code != 200 || !strings.Contains(body, `"id":"key_fromfile"`) || !strings.Contains(body, `"source":"file"`) ||
		!strings.Contains(body, `"source":"both"`) {
		t.Errorf("GET /admin/keys: %d %s", code, body)
	}

	// Revoked in the store, the key is refused although the keys file
	// still lists it as valid, and the log says the file is stale.
	if code, body := opsCall(t, h.admin+"/admin/keys/"+id+"/revoke", ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	opsWait(t, 10*time.Second, "the revoked key to be refused", func() bool {
		code, _ := opsCall(t, url, chat, "Authorization", "Bearer "+key)
		return code == 401
	})
	opsWait(t, 10*time.Second, "a warning about the stale keys file", func() bool {
		return strings.Contains(h.stderr.String(), "auth.keys_file still lists a key that keys.db has revoked")
	})
	if out, _, _ := h.tollgate(t, "keys", "list"); !lineHas(out, id, "revoked", "both") {
		t.Errorf("keys list after the revocation:\n%s", out)
	}
	// A key only in the file is not revoked here: the answer says where
	// to revoke it.
	if code, body := opsCall(t, h.admin+"/admin/keys/key_fromfile/revoke", ""); code != 404 ||
		!strings.Contains(body, "it comes from auth.keys_file "+file) {
		t.Errorf("revoking a key of the keys file: %d %s", code, body)
	}
	if _, stderr, err := h.tollgate(t, "keys", "revoke", "key_fromfile"); err == nil || !strings.Contains(stderr, "it comes from auth.keys_file") {
		t.Errorf("keys revoke of a key of the keys file: %v %s", err, stderr)
	}

	// A keys file that breaks while serving: the log names the setting
	// and the place, and the keys loaded stay in force.
	os.WriteFile(file, []byte(`[{"id": 5}]`), 0o600)
	opsWait(t, 10*time.Second, "the broken keys file to be reported", func() bool {
		return strings.Contains(h.stderr.String(), "auth.keys_file "+file+": entry 0: id: want a string, got 5")
	})
	if code, body := opsCall(t, url, chat, "Authorization", "Bearer "+fileKey); code != 200 {
		t.Errorf("a key loaded before the file broke: %d %s", code, body)
	}
	out, stderr, err = h.tollgate(t, "keys", "list")
	if err != nil || !strings.Contains(stderr, "warning: auth.keys_file "+file+": entry 0: id: want a string, got 5") || !lineHas(out, id, "store") {
		t.Errorf("keys list with a broken keys file: %v\n%s\n%s", err, out, stderr)
	}
	// A key made through the admin API meanwhile works at once, and the
	// log does not say the change failed: the file's standing error is
	// the refresh's to report, once.
	code, body = opsCall(t, h.admin+"/admin/keys", `{"customer":"initech"}`)
	var made struct{ Key string }
	if code != 201 || json.Unmarshal([]byte(body), &made) != nil || made.Key == "" {
		t.Fatalf("POST /admin/keys while the keys file is broken: %d %s", code, body)
	}
	if code, body := opsCall(t, url, chat, "Authorization", "Bearer "+made.Key); code != 200 {
		t.Errorf("a key made while the keys file is broken: %d %s", code, body)
	}
	if strings.Contains(h.stderr.String(), "cannot re-read the virtual keys") {
		t.Errorf("the log says an admin change was not applied, though it was:\n%s", h.stderr.String())
	}
}

// TestKeysAPIStorageFailure: a keys.db that does not open is the server's
// problem (500), whatever the request; a bad spec is still the client's.
func TestKeysAPIStorageFailure(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, opsConfig)
	if err := os.WriteFile(filepath.Join(h.dir, "keys.db"), []byte(strings.Repeat("garbage ", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := opsCall(t, h.admin+"/admin/keys", `{"customer":"acme"}`); code != 500 || !strings.Contains(body, "keys.db") {
		t.Errorf("POST /admin/keys with a damaged keys.db: %d %s, want 500", code, body)
	}
	if code, body := adminGet(t, h.admin+"/admin/keys"); code != 500 {
		t.Errorf("GET /admin/keys with a damaged keys.db: %d %s, want 500", code, body)
	}
	if code, body := opsCall(t, h.admin+"/admin/keys", `{"customer":"acme","ttl":"-1h"}`); code != 400 {
		t.Errorf("POST /admin/keys with a bad spec: %d %s, want 400", code, body)
	}
}

// lineHas reports whether a line of out holds every one of words.
func lineHas(out string, words ...string) bool {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		ok := true
		for _, w := range words {
			ok = ok && slices.Contains(f, w)
		}
		if ok {
			return true
		}
	}
	return false
}

// adminGet gets url and returns the status and answer.
func adminGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
