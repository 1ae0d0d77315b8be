//go:build unix

package h1transport

import (
	"syscall"
)

// stillOpen reports whether a pooled connection can be used: nothing is
// buffered from it and the server has not closed it nor sent anything
// unasked. It peeks at the socket without blocking (one recv call), which
// is what net/http's per-connection read loop learns by waiting.
func (c *conn) stillOpen() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		// EAGAIN is an open, quiet connection; no error is the server's
		// FIN (0 bytes) or data nobody asked for; anything else is broken.
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}
