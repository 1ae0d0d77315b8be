//go:build linux

package logging

import (
	"os"
	"testing"
)

func TestIsTerminalPTY(t *testing.T) {
	f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer f.Close()
	if !isTerminal(f) {
		t.Error("isTerminal(/dev/ptmx) = false")
	}
}
