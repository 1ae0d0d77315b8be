// Command tollgate is the gateway host: it serves each provider's own wire
// format, runs every call through the configured pipeline, and tracks usage.
//
//	tollgate serve [--config FILE]     run the gateway (embedded default config without --config)
//	tollgate validate --config FILE    check a config; exit 0 or print every problem
//	tollgate mock [--listen ADDR]      run a fake provider to try the gateway without an API key
//	tollgate usage …                   usage report, outbox status, dead letters, recovery
//	tollgate version                   print the version
package main

import (
	"os"
)

func main() {
	mayRestart = true
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// mayRestart lets serve replace the process with itself to set a runtime
// setting (server.sysmon_awake). Only a real tollgate process may: run
// called from a test would replace the test binary.
var mayRestart bool
