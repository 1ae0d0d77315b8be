package datasync

import (
	"os"

	"golang.org/x/sys/unix"
)

func sysFdatasync(f *os.File) error {
	return withFD(f, func(fd int) error {
		for {
			if err := unix.Fdatasync(fd); err != unix.EINTR {
				return err
			}
		}
	})
}

// withFD calls fn with f's descriptor, which stays open until fn returns.
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}
