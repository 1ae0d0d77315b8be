//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package logging

// isTerminalFd reports false: on this system the auto format always picks
// JSON.
func isTerminalFd(fd uintptr) bool {
	return false
}
