package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/tollgate-dev/tollgate/internal/datasync"
	"github.com/tollgate-dev/tollgate/internal/procs"
)

// procsPeriod is how long calls must come one at a time before the
// gateway drops to one processor.
const procsPeriod = time.Second

// followLoad starts moving GOMAXPROCS with the gateway's load
// (server.procs_follow_load) until ctx ends, and says what it does, for
// the start-up log.
func followLoad(ctx context.Context, on bool, op *ops) string {
	if !on {
		return fmt.Sprintf("%d (procs_follow_load off)", runtime.GOMAXPROCS(0))
	}
	var mode string
	op.procs, mode = procs.Start(ctx, procsPeriod, op.active.Load, op.log)
	return mode
}

// fsyncMode says how the usage file's syncs wait, for the start-up log.
func fsyncMode() string {
	mode, why := datasync.Mode()
	if why != nil {
		return fmt.Sprintf("%s (%v)", mode, why)
	}
	return mode
}
