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
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
