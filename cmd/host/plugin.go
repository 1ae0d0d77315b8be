package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/plugins/wasm"
)

const pluginUsage = `Usage:
  tollgate plugin inspect FILE.wasm   print a WebAssembly plugin's ABI version, hooks,
                                      imports and sha256, or why it is not a valid plugin
`

// pluginCmd runs `tollgate plugin …`.
func pluginCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := askedHelp(args, pluginUsage, stdout, stderr); done {
		return code
	}
	if args[0] == "inspect" && len(args) == 2 && isHelp(args[1]) {
		fmt.Fprint(stdout, pluginUsage)
		return 0
	}
	if args[0] != "inspect" || len(args) != 2 {
		fmt.Fprintf(stderr, "tollgate plugin: unknown arguments %q\n\n%s", strings.Join(args, " "), pluginUsage)
		return 2
	}
	rep, err := wasm.Inspect(ctx, args[1])
	if err != nil {
		fmt.Fprintf(stderr, "tollgate plugin inspect: %v\n", err)
		return 1
	}
	printReport(stdout, rep)
	if rep.Problem != nil {
		fmt.Fprintf(stderr, "%s is not a valid tollgate plugin: %v\n", rep.Path, rep.Problem)
		return 1
	}
	return 0
}

func printReport(w io.Writer, r *wasm.Report) {
	abi := "none (no tollgate_abi_v* marker export)"
	switch {
	case r.ABI > 0:
		abi = fmt.Sprintf("v%d", r.ABI)
	case len(r.OtherABIs) > 0:
		abi = fmt.Sprintf("v%d (this tollgate serves v1)", r.OtherABIs[len(r.OtherABIs)-1])
	}
	fmt.Fprintf(w, "file:      %s (%d bytes)\n", r.Path, r.Size)
	fmt.Fprintf(w, "sha256:    %s\n", r.SHA256)
	fmt.Fprintf(w, "abi:       %s\n", abi)
	fmt.Fprintf(w, "hooks:     %s\n", list(r.Hooks))
	if strings.Join(r.Hooks, ",") != strings.Join(r.Exported, ",") {
		fmt.Fprintf(w, "exported:  %s\n", list(r.Exported))
	}
	imports := slices.Clone(r.Imports)
	slices.Sort(imports)
	fmt.Fprintf(w, "imports:   %s\n", list(slices.Compact(imports)))
	if len(r.Grants) > 0 {
		fmt.Fprintf(w, "needs:     %s in its config\n", strings.Join(r.Grants, ", "))
	}
	fmt.Fprintf(w, "memory:    %d pages (%d KiB) at start\n", r.MemoryMinPages, r.MemoryMinPages*64)
	fmt.Fprintf(w, "deadlines: %s\n", map[bool]string{true: "checks added by tollgate (fast)", false: "wazero close-on-deadline (slower loops; import wasi_snapshot_preview1.sched_yield for the fast path)"}[r.DeadlineChecks])
	if r.Problem == nil {
		fmt.Fprintf(w, "valid:     yes\n")
	} else {
		fmt.Fprintf(w, "valid:     no\n")
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
