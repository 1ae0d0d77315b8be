package datasync

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring ABI this file uses (include/uapi/linux/io_uring.h).
const (
	ringEntries = 4 // one sync is in flight at a time

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	featSingleMmap = 1 << 0
	registerEvfd   = 4
	registerProbe  = 8
	opNop          = 0
	opFsync        = 3
	enterGetEvents = 1 << 0
	fsyncDatasync  = 1 << 0
	opSupported    = 1 << 0

	sqeSize = 64
	cqeSize = 16
)

// The kernel's sizes, checked when this compiles.
var (
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [120 - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(sqe{}) - sqeSize]byte
	_ [sqeSize - unsafe.Sizeof(sqe{})]byte
	_ [unsafe.Sizeof(cqe{}) - cqeSize]byte
	_ [cqeSize - unsafe.Sizeof(cqe{})]byte
)

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	_                                                                      [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
	_                                                           uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
	_                                                           uint64
}

// sqe is the part of struct io_uring_sqe an fsync uses; the rest is zero.
type sqe struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, opFlags  uint32
	userData      uint64
	_             [24]byte
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is an io_uring instance that syncs one file at a time and signals
// each completion on an eventfd the Go poller watches.
type ring struct {
	mu     sync.Mutex // held from submission to completion
	fd     int
	ev     *os.File // eventfd, non-blocking, so reads park in the poller
	maps   [][]byte
	sqTail *uint32
	sqMask uint32
	sqArr  []uint32
	sqes   []sqe
	cqHead *uint32
	cqTail *uint32
	cqMask uint32
	cqes   []cqe
	seq    uint64
	broken atomic.Pointer[error] // set when the ring failed: every later sync is a system call
}

func newRing() (*ring, error) {
	var p params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &ring{fd: int(fd)}
	if err := r.init(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *ring) init(p *params) error {
	if err := r.probe(); err != nil {
		return err
	}
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	sq, err := r.mmap(offSQRing, sqSize)
	if err != nil {
		return err
	}
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = r.mmap(offCQRing, cqSize); err != nil {
			return err
		}
	}
	sqesMem, err := r.mmap(offSQEs, int(p.sqEntries)*sqeSize)
	if err != nil {
		return err
	}
	r.sqTail = word(sq, p.sqOff.tail)
	r.sqMask = *word(sq, p.sqOff.ringMask)
	r.sqArr = unsafe.Slice(word(sq, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqesMem[0])), p.sqEntries)
	r.cqHead = word(cq, p.cqOff.head)
	r.cqTail = word(cq, p.cqOff.tail)
	r.cqMask = *word(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	if err := r.runNop(); err != nil {
		return err
	}

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	r.ev = os.NewFile(uintptr(efd), "io_uring eventfd")
	e := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerEvfd, uintptr(unsafe.Pointer(&e)), 1, 0, 0); errno != 0 {
		return fmt.Errorf("io_uring_register eventfd: %w", errno)
	}
	return nil
}

// probe checks that the kernel knows IORING_OP_FSYNC (5.6 and later can
// say; an older kernel fails the probe and gets the system call).
func (r *ring) probe() error {
	var buf [16 + 256*8]byte // struct io_uring_probe with 256 ops
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerProbe, uintptr(unsafe.Pointer(&buf[0])), 256, 0, 0); errno != 0 {
		return fmt.Errorf("io_uring_register probe: %w", errno)
	}
	lastOp, op := buf[0], buf[16+opFsync*8:]
	if lastOp < opFsync || op[0] != opFsync || *(*uint16)(unsafe.Pointer(&op[2]))&opSupported == 0 {
		return errors.New("io_uring: this kernel cannot fsync")
	}
	return nil
}

// runNop submits a no-op and waits for it to complete. A ring the kernel
// sets up but will not run (a seccomp profile that allows io_uring_setup
// and refuses io_uring_enter) is refused here, at start-up, so that Mode
// tells the truth and nothing that depends on it (internal/procs) follows
// a ring that is not there. It runs before the eventfd is registered, so
// it leaves no signal behind.
func (r *ring) runNop() error {
	r.push(sqe{opcode: opNop})
	if err := r.submit(); err != nil {
		return err
	}
	for try := 0; ; try++ {
		if res, ok := r.reap(r.seq); ok {
			if res < 0 {
				return fmt.Errorf("io_uring no-op: %w", unix.Errno(-res))
			}
			return nil
		}
		if try == 100 {
			return errors.New("io_uring: a no-op did not complete")
		}
		// Waits in the kernel for the completion; EINTR goes round again.
		unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, 1, enterGetEvents, 0, 0)
	}
}

// push publishes e, numbered with the next sequence number, to the kernel;
// submit then hands it over. Only the goroutine holding mu (or setting up)
// calls it.
func (r *ring) push(e sqe) {
	r.seq++
	e.userData = r.seq
	tail := *r.sqTail // only this goroutine writes the tail
	idx := tail & r.sqMask
	r.sqes[idx] = e
	r.sqArr[idx] = idx
	atomic.StoreUint32(r.sqTail, tail+1) // publishes the entry to the kernel
}

// brokenBy returns why the ring stopped working after start-up, or nil.
func (r *ring) brokenBy() error {
	if err := r.broken.Load(); err != nil {
		return *err
	}
	return nil
}

// breakWith marks the ring unusable for good; mu is held.
func (r *ring) breakWith(err error) {
	err = fmt.Errorf("io_uring stopped working after start-up: %w", err)
	r.broken.Store(&err)
}

func (r *ring) mmap(off int64, size int) ([]byte, error) {
	b, err := unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("io_uring mmap: %w", err)
	}
	r.maps = append(r.maps, b)
	return b, nil
}

func word(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// close releases the ring (tests; the shared ring lives as long as the
// process).
func (r *ring) close() {
	for _, b := range r.maps {
		unix.Munmap(b)
	}
	if r.ev != nil {
		r.ev.Close()
	}
	unix.Close(r.fd)
}

func (r *ring) fdatasync(f *os.File) error {
	err := withFD(f, r.sync)
	if errors.Is(err, errBroken) {
		return blocking(f)
	}
	if err != nil {
		return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
	}
	return nil
}

var errBroken = errors.New("io_uring unusable")

// sync submits an fdatasync of fd and parks until it completes. The fd
// stays open meanwhile: the caller holds it through RawConn.Control.
func (r *ring) sync(fd int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.brokenBy() != nil {
		return errBroken
	}
	r.push(sqe{opcode: opFsync, fd: int32(fd), opFlags: fsyncDatasync})
	if err := r.submit(); err != nil {
		// The entry may sit unsubmitted; never enter again.
		r.breakWith(err)
		return errBroken
	}
	var buf [8]byte
	for {
		if res, ok := r.reap(r.seq); ok {
			if res < 0 {
				return unix.Errno(-res)
			}
			return nil
		}
		// Parks in the network poller until the kernel signals a completion.
		if _, err := r.ev.Read(buf[:]); err != nil {
			// Cannot happen to an eventfd; if it does, the caller syncs
			// with the system call, which waits for this one too.
			r.breakWith(fmt.Errorf("io_uring eventfd: %w", err))
			return errBroken
		}
	}
}

// submit hands the published entry to the kernel, retrying what the
// kernel asks to be retried a bounded number of times.
func (r *ring) submit() error {
	for try := 0; ; try++ {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		switch {
		case errno == 0 && n == 1:
			return nil
		case try == 100:
			return fmt.Errorf("io_uring_enter: submitted %d entries (%v) after %d tries", n, errno, try+1)
		case errno == 0, errno == unix.EINTR, errno == unix.EAGAIN, errno == unix.EBUSY:
			continue
		default:
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
}

// reap takes the completions the kernel has posted and returns the result
// of the one for seq, if it is among them.
func (r *ring) reap(seq uint64) (res int32, ok bool) {
	head := *r.cqHead // only this goroutine, under mu, writes the head
	for head != atomic.LoadUint32(r.cqTail) {
		c := r.cqes[head&r.cqMask]
		head++
		atomic.StoreUint32(r.cqHead, head)
		if c.userData == seq {
			return c.res, true
		}
	}
	return 0, false
}
