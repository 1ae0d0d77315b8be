package datasync

import (
	"fmt"
	"os"
)

// blocking is the fallback: the system call, holding the processor.
func blocking(f *os.File) error {
	if err := sysFdatasync(f); err != nil {
		return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
	}
	return nil
}
