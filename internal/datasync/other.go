//go:build !linux

package datasync

import (
	"errors"
	"os"
)

type ring struct{}

func newRing() (*ring, error) { return nil, errors.New("io_uring is Linux only") }

func (*ring) fdatasync(f *os.File) error { return blocking(f) }

func (*ring) brokenBy() error { return nil }

func sysFdatasync(f *os.File) error { return f.Sync() }
