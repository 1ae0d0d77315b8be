//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package logging

import "golang.org/x/sys/unix"

// isTerminalFd reports whether fd is a terminal: whether it has termios
// settings to read.
func isTerminalFd(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TIOCGETA)
	return err == nil
}
