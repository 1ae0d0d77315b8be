package loadtest

import (
	"errors"
	"io"
	"net"
)

// Relay is the harness's floor for any proxy: each accepted connection
// gets its own connection to upstream, and bytes are copied both ways
// until either side closes, nothing parsed (on Linux, io.Copy between
// two TCP connections is the kernel's splice). What a proxy adds over a
// direct call beyond the relay's figures is its own work, not the second
// hop. Relay returns when ln is closed; connections already relayed run
// on until their ends close.
func Relay(ln net.Listener, upstream string) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
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
