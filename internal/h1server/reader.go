package h1server

import (
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// connReader is what the connection's bufio.Reader reads from: it bounds
// the request head, hands over a byte the hang-up watch read, and cancels
// the connection's context on a read error, as net/http's does.
//
// Reads happen on one goroutine at a time: the request's reader, or the
// hang-up watch once the body has ended, never both (see watch).
type connReader struct {
	c       *conn
	remain  int64 // bytes the head may still take
	hasByte bool  // byteBuf holds the next request's first byte
	byteBuf [1]byte
}

func (cr *connReader) setReadLimit(n int64)  { cr.remain = n }
func (cr *connReader) setInfiniteReadLimit() { cr.remain = math.MaxInt64 }
func (cr *connReader) hitReadLimit() bool    { return cr.remain <= 0 }

func (cr *connReader) Read(p []byte) (int, error) {
	if cr.hitReadLimit() {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > cr.remain {
		p = p[:cr.remain]
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.remain--
		return 1, nil
	}
	n, err := cr.c.nc.Read(p)
	cr.remain -= int64(n)
	if err != nil {
		cr.c.cancel() // the client is gone or broke the protocol
	}
	return n, err
}

// watch notices a client that hangs up while its handler runs: a read
// of one byte from the connection, started only when the handler is
// still running after the check delay and the request's body has ended.
// A byte it reads is the next request's (pipelining) and is kept; an
// error cancels the connection's context. The request's end stops it as
// net/http stops its background read: a read deadline in the past, then
// a wait for the reader to return.
type watch struct {
	c     *conn
	timer *time.Timer

	mu          sync.Mutex
	cond        sync.Cond
	running     bool // the handler runs
	delayPassed bool
	bodyEnded   bool
	reading     bool // the watching read is in progress
	aborted     bool // the request's end stopped it
}

// start arms the watch for a request whose handler is about to run.
func (wt *watch) start(bodyEnded bool, d time.Duration) {
	wt.mu.Lock()
	wt.running, wt.bodyEnded, wt.delayPassed = true, bodyEnded, false
	wt.mu.Unlock()
	if d < 0 {
		wt.mu.Lock()
		wt.delayPassed = true
		ok := wt.claimLocked()
		wt.mu.Unlock()
		if ok {
			go wt.read()
		}
		return
	}
	if wt.timer == nil {
		wt.timer = time.AfterFunc(d, wt.delayDone)
		return
	}
	wt.timer.Reset(d)
}

// delayDone runs on the timer's goroutine, which does the watching read
// itself when it may.
func (wt *watch) delayDone() {
	wt.mu.Lock()
	wt.delayPassed = true
	ok := wt.claimLocked()
	wt.mu.Unlock()
	if ok {
		wt.read()
	}
}

// bodyEnd is called by the goroutine that read the body's end, after its
// last read from the connection.
func (wt *watch) bodyEnd() {
	wt.mu.Lock()
	wt.bodyEnded = true
	ok := wt.claimLocked()
	wt.mu.Unlock()
	if ok {
		go wt.read()
	}
}

// claimLocked reports whether the watching read should start now, and
// marks it started.
func (wt *watch) claimLocked() bool {
	// Bytes already buffered are a pipelined request: the client has not
	// hung up, and reading on would not tell.
	if !wt.running || !wt.delayPassed || !wt.bodyEnded || wt.reading || wt.c.br.Buffered() > 0 {
		return false
	}
	wt.reading = true
	// The handler's body deadline, if any, ended with the body. Lifted
	// here, under the lock, so that stop's deadline in the past comes
	// after it.
	wt.c.nc.SetReadDeadline(time.Time{})
	return true
}

func (wt *watch) read() {
	cr := &wt.c.cr
	n, err := wt.c.nc.Read(cr.byteBuf[:])
	wt.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	if ne, ok := err.(net.Error); ok && wt.aborted && ne.Timeout() {
		// The request's end stopped it.
	} else if err != nil {
		wt.c.cancel()
	}
	wt.reading, wt.aborted = false, false
	wt.mu.Unlock()
	wt.cond.Broadcast()
}

// stop ends the watch when the handler has returned (or hijacks the
// connection), waiting for a watching read to give the connection back.
func (wt *watch) stop() {
	if wt.timer != nil {
		wt.timer.Stop()
	}
	wt.mu.Lock()
	wt.running = false
	if !wt.reading {
		wt.mu.Unlock()
		return
	}
	wt.aborted = true
	wt.c.nc.SetReadDeadline(aLongTimeAgo)
	for wt.reading {
		wt.cond.Wait()
	}
	wt.mu.Unlock()
	wt.c.nc.SetReadDeadline(time.Time{})
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)
