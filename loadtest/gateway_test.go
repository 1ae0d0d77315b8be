package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testbin"
)

// fakeGatewayEnv makes the test binary act as `tollgate serve --listen
// ADDR`: it listens on ADDR and logs the "tollgate is serving" line with
// the address it got, or, set to "fail", logs an error and exits as
// tollgate does when it cannot start. Each connection it accepts is
// told its pid and $LOADTEST_FAKE_MARK.
const fakeGatewayEnv = "LOADTEST_FAKE_GATEWAY"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeGatewayEnv); mode != "" {
		os.Exit(fakeGateway(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeGateway(mode string, args []string) int {
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, `{"level":"ERROR","msg":"cannot listen","err":"listen tcp: address already in use"}`)
		return 1
	}
	if len(args) > 0 && args[0] == "validate" {
		return 0
	}
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			ln, err := net.Listen("tcp", args[i+1])
			if err != nil {
				fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"cannot listen","err":%q}`+"\n", err.Error())
				return 1
			}
			term := make(chan os.Signal, 1)
			signal.Notify(term, syscall.SIGTERM) // as tollgate does: a stopped process must be continued to see it
			go func() { <-term; os.Exit(0) }()
			fmt.Fprintln(os.Stderr, `{"level":"INFO","msg":"starting"}`)
			fmt.Fprintf(os.Stderr, `{"level":"INFO","msg":"tollgate is serving","listen":"http://%s","stages":3}`+"\n", ln.Addr())
			for {
				c, err := ln.Accept()
				if err != nil {
					return 1
				}
				fmt.Fprintf(c, "fake gateway %d%s\n", os.Getpid(), os.Getenv("LOADTEST_FAKE_MARK"))
				c.Close()
			}
		}
	}
	fmt.Fprintln(os.Stderr, "no --listen")
	return 2
}

// TestStartGatewayUsesTheAddressItLogs: the gateway binds a port of the
// kernel's choosing, and the harness talks to the address it logged —
// this process's, not a port picked beforehand that another process could
// take. The config's --env reaches it.
func TestStartGatewayUsesTheAddressItLogs(t *testing.T) {
	o := Options{Gateway: os.Args[0], NoValidate: true}
	nc := NamedConfig{Name: "fake", Env: []string{"LOADTEST_FAKE_MARK= marked"}}
	p, err := startGateway(context.Background(), o, nc, []string{fakeGatewayEnv + "=serve"}, "http://127.0.0.1:1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	if want := fmt.Sprintf("fake gateway %d marked\n", p.pid()); line != want {
		t.Errorf("%s answered %q, want the started gateway's %q", p.addr, line, want)
	}
}

// TestAConfigsOwnBinaryRunsAndIsValidated: a row given --binary runs that
// build, not the run's gateway, and its config is validated with it even
// where the run's gateway would not validate (a profiling build).
func TestAConfigsOwnBinaryRunsAndIsValidated(t *testing.T) {
	o := Options{Gateway: filepath.Join(t.TempDir(), "no-such-tollgate"), NoValidate: true}
	nc := NamedConfig{Name: "old", Binary: os.Args[0]}
	p, err := startGateway(context.Background(), o, nc, []string{fakeGatewayEnv + "=serve"}, "http://127.0.0.1:1", t.TempDir())
	if err != nil {
		t.Fatalf("the row's own binary did not start: %v", err)
	}
	defer p.stop()
	if p.cmd.Path != os.Args[0] {
		t.Errorf("the row ran %s, want its own binary %s", p.cmd.Path, os.Args[0])
	}
	_, err = startGateway(context.Background(), o, nc, []string{fakeGatewayEnv + "=fail"}, "http://127.0.0.1:1", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "does not validate") {
		t.Fatalf("err = %v, want the row's binary to validate its config first", err)
	}
}

// TestStartGatewaySaysWhyItDidNotStart: a gateway that exits before
// serving fails the start with its log.
func TestStartGatewaySaysWhyItDidNotStart(t *testing.T) {
	o := Options{Gateway: os.Args[0], NoValidate: true}
	_, err := startGateway(context.Background(), o, NamedConfig{Name: "fake"}, []string{fakeGatewayEnv + "=fail"}, "http://127.0.0.1:1", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v, want the exit and the gateway's own error", err)
	}
}

func TestServingAddr(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, log, want string
	}{
		{"the line", `{"msg":"tollgate is serving","listen":"http://127.0.0.1:4321"}` + "\n", "127.0.0.1:4321"},
		{"after other lines", "plain text\n{\"msg\":\"loading\"}\n{\"time\":\"x\",\"level\":\"INFO\",\"msg\":\"tollgate is serving\",\"listen\":\"http://[::1]:80\",\"admin\":\"off\"}\n", "[::1]:80"},
		{"not yet", `{"msg":"loading config"}` + "\n", ""},
		{"a line cut short", `{"msg":"tollgate is serving","listen":"http://127.0.0.1:43`, ""},
		{"no listen", `{"msg":"tollgate is serving"}` + "\n", ""},
		{"no log", "", ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
		if tt.log != "" {
			if err := os.WriteFile(path, []byte(tt.log), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := servingAddr(path)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: servingAddr = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

// TestStartGatewayRunsTheRealGateway ties the harness to tollgate itself:
// the flags and environment it starts `tollgate validate` and `tollgate
// serve` with, and the "tollgate is serving" line it reads the address
// from, are what cmd/host accepts and logs. A drift on either side would
// otherwise show only when a load run fails to start a gateway.
func TestStartGatewayRunsTheRealGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/host")
	}
	dir := t.TempDir()
	bin, err := testbin.Tollgate("../cmd/host", dir)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(NewCanned())
	defer up.Close()
	o := Options{Gateway: bin, Root: ".."}
	p, err := startGateway(context.Background(), o, NamedConfig{Name: "default"}, baseEnv(), up.URL, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := smoke(context.Background(), newStreamClient(1), "http://"+p.addr+"/v1/chat/completions"); err != nil {
		t.Fatalf("a call through the started gateway: %v", err)
	}
}

// TestFocusStopsTheOtherTargets: while a target has its turn, the other
// proxies and gateways are stopped and the upstream runs; the target
// measured next is continued; a stopped one still ends at SIGTERM
// without waiting out the kill.
func TestFocusStopsTheOtherTargets(t *testing.T) {
	o := Options{Gateway: os.Args[0], NoValidate: true, PauseOthers: true}
	start := func(name string) *proc {
		p, err := startGateway(context.Background(), o, NamedConfig{Name: name}, []string{fakeGatewayEnv + "=serve"}, "http://127.0.0.1:1", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.stop() })
		return p
	}
	up, a, b := start("upstream"), start("a"), start("b")
	direct, ta, tb := &target{proc: up}, &target{proc: a}, &target{proc: b}
	live := []*target{direct, ta, tb}
	// Signals land a moment later: each process is given up to 5 s to
	// reach its state (T: stopped; any other: running or sleeping).
	check := func(when string, want map[*proc]bool) {
		t.Helper()
		for p, stopped := range want {
			deadline := time.Now().Add(5 * time.Second)
			got := procState(t, p.pid())
			for (got == 'T') != stopped && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				got = procState(t, p.pid())
			}
			if (got == 'T') != stopped {
				t.Errorf("%s: %s is in state %c, want stopped=%v", when, p.name, got, stopped)
			}
		}
	}
	focus(o, live, ta, up)
	check("a's turn", map[*proc]bool{up: false, a: false, b: true})
	if !focus(o, live, tb, up) {
		t.Error("focus on b did not say it continued b")
	}
	check("b's turn", map[*proc]bool{up: false, a: true, b: false})
	focus(o, live, direct, up)
	check("direct's turn", map[*proc]bool{up: false, a: true, b: true})
	if err := a.stop(); err != nil {
		t.Errorf("stopping a paused target: %v", err)
	}

	o.PauseOthers = false
	focus(o, live, direct, up)
	check("without PauseOthers", map[*proc]bool{b: true}) // left as it was
}

// procState is the state letter of /proc/PID/stat: S sleeping, T stopped.
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	if rest == "" {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return rest[0]
}
