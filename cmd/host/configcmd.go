package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

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

// serveConfig answers GET /admin/config: the configuration in force, as
// `tollgate config show` prints a file's, after comments that say when it
// was loaded, which settings of the file wait for a restart, and whether
// the last reload was rejected. A reload applies only the pipeline, so
// the other settings' sources are the file as it was at start.
func (o *ops) serveConfig(w http.ResponseWriter, r *http.Request) {
	b, err := o.cfg.Load().YAML()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	st := o.reload.Load()
	var head strings.Builder
	how := "at start"
	if st.Reloaded {
		how = "by the reload"
	}
	fmt.Fprintf(&head, "# The configuration in force, loaded %s at %s.\n", how, st.Since.Format(time.RFC3339))
	if len(st.Pending) > 0 {
		fmt.Fprintf(&head, "# The file sets other values for %s: they take effect at restart.\n", strings.Join(st.Pending, ", "))
	}
	if !st.OK {
		fmt.Fprintf(&head, "# The reload at %s was rejected (GET /readyz says why); this configuration keeps serving.\n", st.At.Format(time.RFC3339))
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	io.WriteString(w, head.String())
	w.Write(b)
}
