package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/tollgate-dev/tollgate"
)

// validate checks a config as serve would, building the pipeline, without
// starting anything.
func validate(args []string, stdout, stderr io.Writer) int {
	cfg, fs, err := loadConfig("validate", args, stderr)
	if err != nil {
		if fs != nil && fs.Parsed() == false {
			return 2
		}
		printError(stderr, err)
		return 1
	}
	log := slog.New(slog.DiscardHandler)
	ups, err := tollgate.Upstreams(cfg, log)
	if err == nil {
		var p interface{ Close(context.Context) error }
		p, err = tollgate.BuildPipeline(cfg, ups, log)
		if err == nil {
			p.Close(context.Background())
		}
	}
	if err != nil {
		printError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "tollgate: the configuration is valid (%d stages, %d providers)\n", len(cfg.Pipeline), len(cfg.Providers))
	return 0
}
