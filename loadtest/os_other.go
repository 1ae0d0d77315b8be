//go:build !unix

package loadtest

import (
	"errors"
	"os"
)

// The harness drives Linux tools (wrk, /proc); elsewhere it builds, so that
// `go build ./...` and `go vet ./...` work on every platform, and the
// options that need Unix signals or priorities say so.
const canPause = false

var errUnix = errors.New("needs a Unix system")

func setNice(int) error                 { return errUnix }
func stopProcess(*os.Process) error     { return errUnix }
func continueProcess(*os.Process) error { return errUnix }
