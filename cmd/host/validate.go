package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/tollgate-dev/tollgate"
)

// validate checks a config as serve would, building the pipeline, without
// starting anything.
func validate(args []string, stdout, stderr io.Writer) int {
	cfg, _, err := loadConfig("validate", args, stdout, stderr)
	if err != nil {
		return loadFailed(stderr, err)
	}
	log := slog.New(slog.DiscardHandler)
	ups, err := tollgate.Upstreams(cfg, log)
	if err == nil {
		err = tollgate.CheckPipeline(cfg, ups, log) // opens no files: a running gateway may hold them
	}
	if err != nil {
		printError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "tollgate: the configuration is valid (%d stages, %d providers)\n", len(cfg.Pipeline), len(cfg.Providers))
	return 0
}
