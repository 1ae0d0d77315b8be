package loadtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// fakeGatewayEnv makes the test binary act as `tollgate serve --listen
// ADDR`: it listens on ADDR, failing as tollgate does when it is taken.
const fakeGatewayEnv = "LOADTEST_FAKE_GATEWAY"

func TestMain(m *testing.M) {
	if os.Getenv(fakeGatewayEnv) != "" {
		os.Exit(fakeGateway(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeGateway(args []string) int {
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			ln, err := net.Listen("tcp", args[i+1])
			if err != nil {
				fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"cannot listen","err":%q}`+"\n", err.Error())
				return 1
			}
			for {
				c, err := ln.Accept()
				if err != nil {
					return 1
				}
				c.Close()
			}
		}
	}
	fmt.Fprintln(os.Stderr, "no --listen")
	return 2
}

// TestStartGatewayPicksAnotherPortWhenItsIsTaken: a port taken between
// its pick and the gateway's bind costs another pick, not the run. The
// port is taken as a client connection's would be: bound, not listening.
func TestStartGatewayPicksAnotherPortWhenItsIsTaken(t *testing.T) {
	taken := boundPort(t)
	real := freeAddr
	picks := 0
	freeAddr = func() (string, error) {
		picks++
		if picks == 1 {
			return taken, nil
		}
		return real()
	}
	defer func() { freeAddr = real }()

	o := Options{Gateway: os.Args[0], NoValidate: true}
	p, err := startGateway(context.Background(), o, NamedConfig{Name: "fake"}, []string{fakeGatewayEnv + "=1"}, "http://127.0.0.1:1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if picks != 2 || p.addr == taken {
		t.Fatalf("%d picks, gateway on %s (the taken port is %s)", picks, p.addr, taken)
	}
}

// boundPort binds a loopback socket without listening on it and returns
// its address; the socket is closed when the test ends.
func boundPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
