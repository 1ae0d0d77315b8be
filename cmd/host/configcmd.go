package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
)

const configUsage = `Usage:
  tollgate config default                       print the embedded default config, comments and all:
                                                a starting point for your own file
  tollgate config show [--config FILE] [flags]  print the configuration serve would run with, each value
                                                set by the file, a variable or a flag followed by where
`

// configCmd runs `tollgate config …`.
func configCmd(args []string, stdout, stderr io.Writer) int {
	if code, done := askedHelp(args, configUsage, stdout, stderr); done {
		return code
	}
	switch {
	case args[0] == "default" && len(args) == 1:
		stdout.Write(config.Default())
		return 0
	case args[0] == "default" && len(args) == 2 && isHelp(args[1]):
		fmt.Fprint(stdout, configUsage)
		return 0
	case args[0] == "show":
		cfg, _, err := loadConfig("config show", args[1:], stdout, stderr)
		if err != nil {
			return loadFailed(stderr, err)
		}
		b, err := cfg.YAML()
		if err != nil {
			fmt.Fprintf(stderr, "tollgate config show: %v\n", err)
			return 1
		}
		stdout.Write(b)
		return 0
	}
	fmt.Fprintf(stderr, "tollgate config: unknown arguments %q\n\n%s", strings.Join(args, " "), configUsage)
	return 2
}
