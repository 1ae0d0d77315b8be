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
	p := &c.probe
	if p.rc == nil {
		sc, ok := c.raw.(syscall.Conn)
		if !ok {
			return true
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		// Made once per connection: a closure per check would be
		// allocated on every reuse.
		p.rc, p.peek = rc, p.peekFD
	}
	err := p.rc.Read(p.peek)
	return err == nil && p.open
}

// probe is a connection's liveness peek, kept for its next reuse.
type probe struct {
	rc   syscall.RawConn
	peek func(fd uintptr) bool // p.peekFD, bound once
	open bool
	buf  [1]byte
}

func (p *probe) peekFD(fd uintptr) bool {
	// EAGAIN is an open, quiet connection; no error is the server's FIN
	// (0 bytes) or data nobody asked for; anything else is broken.
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true
}
