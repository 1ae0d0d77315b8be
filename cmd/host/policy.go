package main

import (
	"context"
	"fmt"
	"io"
	"regexp"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/plugins/rego"
)

const policyUsage = `Usage: tollgate policy test [-v] [--run REGEX] [--allow-network] DIR...

Runs the Rego unit tests (rules named test_…, in _test.rego files) under each
DIR with OPA's test runner, the same built-ins a rego stage allows, and
tollgate's own (tollgate.pii.find, tollgate.strings.contains_any). Exits 0
when every test passes, 1 when one fails or a policy does not compile, 2 on
bad usage.
`

// policyCmd runs `tollgate policy …`.
func policyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := askedHelp(args, policyUsage, stdout, stderr); done {
		return code
	}
	if args[0] != "test" {
		fmt.Fprintf(stderr, "tollgate policy: unknown command %q\n\n%s", args[0], policyUsage)
		return 2
	}
	fs := pflag.NewFlagSet("policy test", pflag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stdout, policyUsage) }
	verbose := fs.BoolP("verbose", "v", false, "list every test, not only failures")
	runRe := fs.String("run", "", "run only the tests whose name matches `REGEX`")
	network := fs.Bool("allow-network", false, "allow http.send and net.* (as a stage's allow_network)")
	if code, ok := parseFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	if _, err := regexp.Compile(*runRe); err != nil {
		fmt.Fprintf(stderr, "tollgate policy test: --run %q is not a regular expression: %v\n", *runRe, err)
		return 2
	}
	sum, err := rego.RunTests(ctx, fs.Args(), rego.TestOptions{Output: stdout, Verbose: *verbose, Run: *runRe, AllowNetwork: *network})
	if err != nil {
		fmt.Fprintln(stderr, "tollgate policy test: the policies have problems:")
		for _, e := range flatten(err) {
			fmt.Fprintf(stderr, "  - %s\n", e)
		}
		return 1
	}
	if !sum.OK() {
		if sum.Passed+sum.Failed+sum.Errors == 0 {
			fmt.Fprintf(stderr, "tollgate policy test: no test found in %v (tests are rules named test_…)\n", fs.Args())
		}
		return 1
	}
	return 0
}
