package loadtest

import (
	"errors"
	"io"
	"net"
	"time"
)

// Relay is the harness's floor for any proxy: each accepted connection
// gets its own connection to upstream, and bytes are copied both ways
// until either side closes, nothing parsed (on Linux, io.Copy between
// two TCP connections is the kernel's splice). What a proxy adds over a
// direct call beyond the relay's figures is its own work, not the second
// hop. Relay returns when ln is closed; connections already relayed run
// on until their ends close.
func Relay(ln net.Listener, upstream string) error {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// Out of file descriptors, or a connection aborted before it
			// was accepted: wait and go on, as net/http's server does.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		go relayConn(c, upstream)
	}
}

// relayConn copies between c and a new connection to upstream. A side
// that finishes sending half-closes the other's write side, so that a
// client's close reaches the upstream as EOF, as it would directly.
func relayConn(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(u, c)
		closeWrite(u)
		close(done)
	}()
	io.Copy(c, u)
	closeWrite(c)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
