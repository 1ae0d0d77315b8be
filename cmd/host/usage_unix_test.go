//go:build unix

package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/tracking"
)

// heldDatabase returns a data dir whose usage database is held as a
// running gateway holds it: bbolt's flock, on a descriptor of this test's
// own (a second descriptor is refused the lock).
func heldDatabase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := tracking.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.Open(filepath.Join(dir, "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A gateway whose admin_listen is port 0 holds the database at a port the
// command cannot know: it says how to give it, rather than dialling port 0.
func TestUsageCommandAsksForTheAdminPortTheKernelPicked(t *testing.T) {
	dir := heldDatabase(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"usage", "status", "--data-dir", dir, "--admin-listen", "127.0.0.1:0"}, &stdout, &stderr)
	want := `its admin_listen is 127.0.0.1:0, a port the kernel picked: pass the address its serving line printed ("admin":"http://HOST:PORT") as --admin-listen HOST:PORT`
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
}

// What answers on admin_listen may not be tollgate's admin API: the
// command says who answered what, not a Go map or <nil>.
func TestUsageCommandOnSomethingElsesAnswer(t *testing.T) {
	dir := heldDatabase(t)
	long := `{"detail":"` + strings.Repeat("x", 300) + `"}`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // after "ADDR answered "
	}{
		{"another API's error", 404, `{"error":{"message":"Invalid URL (GET /admin/usage/outbox)","type":"invalid_request_error","param":null,"code":null}}`,
			`404 to GET /admin/usage/outbox with something that is not tollgate's admin API: {"error":{"message":"Invalid URL (GET /admin/usage/outbox)","type":"invalid_request_error","param":null,"code":null}}`},
		{"no error field", 500, `{"detail":"boom"}`, `500 to GET /admin/usage/outbox with something that is not tollgate's admin API: {"detail":"boom"}`},
		{"not JSON", 502, "<html>\n<body>Bad Gateway</body>\n</html>\n", `502 to GET /admin/usage/outbox with something that is not tollgate's admin API: <html> <body>Bad Gateway</body> </html>`},
		{"200 without stats", 200, `{"ok":true}`, `200 to GET /admin/usage/outbox with something that is not tollgate's admin API: {"ok":true}`},
		{"an empty answer", 200, "", `200 to GET /admin/usage/outbox with something that is not tollgate's admin API: an empty answer`},
		{"a long answer", 404, long, `404 to GET /admin/usage/outbox with something that is not tollgate's admin API: ` + long[:200] + "…\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			code, _, stderr := usageRun("status", "--data-dir", dir, "--admin-listen", addr)
			want := "tollgate usage status: " + addr + " answered " + tc.want
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
			}
		})
	}
	// tollgate's own errors are said as they are.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "the admin API needs the admin token"})
	}))
	defer srv.Close()
	code, _, stderr := usageRun("status", "--data-dir", dir, "--admin-listen", srv.Listener.Addr().String())
	if want := "tollgate usage status: the admin API needs the admin token\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// A listener that takes the connection and never answers is given up on
// after adminTimeout, and the error says which address, and how long.
func TestUsageCommandOnAListenerThatNeverAnswers(t *testing.T) {
	dir := heldDatabase(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the command gives up
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	old := adminTimeout
	adminTimeout = 100 * time.Millisecond
	t.Cleanup(func() { adminTimeout = old })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "its admin listener " + addr + " did not answer GET /admin/usage/outbox within 100ms\n"},
		{[]string{"purge", "--yes"}, "its admin listener " + addr + " did not answer POST /admin/usage/dead-letters/purge within 100ms; the gateway may still do it: list the dead letters to see\n"},
	} {
		code, _, stderr := usageRun(append(tc.args, "--data-dir", dir, "--admin-listen", addr)...)
		if code != 1 || !strings.HasSuffix(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.args[0], code, stderr, tc.want)
		}
	}
}

// An admin_listen that passes as host:port but makes no URL is an error,
// not a nil request.
func TestUsageCommandOnAnAdminListenThatIsNoURL(t *testing.T) {
	dir := heldDatabase(t)
	code, _, stderr := usageRun("status", "--data-dir", dir, "--admin-listen", "a b:1")
	want := `tollgate usage status: admin_listen "a b:1": parse "http://a b:1/admin/usage/outbox?": invalid character " " in host name`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// lockDatabase takes bbolt's flock on dir's usage database, on a
// descriptor of the test's own, as another process would hold it: how
// (syscall.LOCK_SH) a reader, (syscall.LOCK_EX) a running gateway.
func lockDatabase(t *testing.T, dir string, how int) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, tracking.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

// The commands that only read open the file read-only: they leave it as
// it was, byte for byte, and share it with another reader; replay, which
// writes, still waits for that reader and asks the gateway instead.
func TestUsageReadCommandsOpenTheFileReadOnly(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 20)
	path := filepath.Join(dir, tracking.FileName)
	before, _ := os.ReadFile(path)
	read := func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"status"}, "down"},
			{[]string{"report", "--group-by", "customer"}, "acme"},
			{[]string{"dead-letters", "--sink", "down"}, "0 dead letters shown"},
		} {
			code, stdout, stderr := usageRun(append(tc.args, "--data-dir", dir, "--admin-listen", "")...)
			if code != 0 || !strings.Contains(stdout, tc.want) {
				t.Errorf("%s: exit %d, %s%s; want 0 saying %q", tc.args[0], code, stdout, stderr, tc.want)
			}
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("reading changed the file (%d bytes, then %d)", len(before), len(after))
		}
	}
	t.Run("alone", read)
	lockDatabase(t, dir, syscall.LOCK_SH) // another reader
	t.Run("beside another reader", read)
	code, _, stderr := usageRun("replay", "--data-dir", dir, "--admin-listen", "")
	if want := "the usage database is in use by another process"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("replay beside a reader: exit %d, %s; want 1 saying %q", code, stderr, want)
	}
}

// While a gateway holds the file, the read-only commands ask it through
// its admin listener, as before.
func TestUsageReadCommandsAskTheGatewayThatHoldsTheFile(t *testing.T) {
	dir := t.TempDir()
	queuedEvents(t, dir, 1)
	lockDatabase(t, dir, syscall.LOCK_EX)
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.Path)
		writeJSON(w, http.StatusOK, map[string]any{"stats": map[string]any{}, "health": "ok from the gateway",
			"total": map[string]any{}, "dead_letters": []any{}})
	}))
	defer srv.Close()
	for _, sub := range []string{"status", "report", "dead-letters"} {
		if code, stdout, stderr := usageRun(sub, "--data-dir", dir, "--admin-listen", srv.Listener.Addr().String()); code != 0 {
			t.Errorf("%s: exit %d, %s%s", sub, code, stdout, stderr)
		}
	}
	want := "GET /admin/usage/outbox,GET /admin/usage,GET /admin/usage/dead-letters"
	if got := strings.Join(asked, ","); got != want {
		t.Errorf("the gateway was asked %s; want %s", got, want)
	}
}
