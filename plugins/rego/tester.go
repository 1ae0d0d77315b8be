package rego

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions configures [RunTests].
type TestOptions struct {
	// Output receives the report, as `opa test` prints it.
	Output io.Writer
	// Verbose lists every test, not only failures.
	Verbose bool
	// Run, if set, runs only tests whose name matches this regular
	// expression.
	Run string
	// AllowNetwork makes the network built-ins available, as the stage's
	// allow_network does; by default a policy using them fails to compile.
	AllowNetwork bool
	// Timeout bounds each test (default 5s).
	Timeout time.Duration
}

// TestSummary counts test results.
type TestSummary struct {
	Passed, Failed, Errors, Skipped int
}

// OK reports whether every test that ran passed and at least one ran.
func (s TestSummary) OK() bool { return s.Failed == 0 && s.Errors == 0 && s.Passed > 0 }

// RunTests runs the Rego unit tests (rules named test_…, usually in
// _test.rego files) found under paths, with OPA's test runner and the same
// built-ins a rego stage allows. A policy that does not compile is an
// error naming its file and line.
func RunTests(ctx context.Context, paths []string, opts TestOptions) (TestSummary, error) {
	var sum TestSummary
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	mods, store, err := tester.LoadWithRegoVersion(paths, nil, ast.RegoV1)
	if err != nil {
		return sum, loadError(err)
	}
	if len(mods) == 0 {
		return sum, fmt.Errorf("no .rego files found in %v", paths)
	}
	caps := capabilities(opts.AllowNetwork)
	compiler := ast.NewCompiler().WithCapabilities(caps).WithEnablePrintStatements(true)
	r := tester.NewRunner().SetCompiler(compiler).SetStore(store).SetModules(mods).AddCustomBuiltins(testerBuiltins()).
		CapturePrintOutput(true).SetTimeout(opts.Timeout).Filter(opts.Run)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return sum, err
	}
	defer store.Abort(ctx, txn)
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		if errs, ok := err.(ast.Errors); ok {
			return sum, compileErrors(errs, caps)
		}
		return sum, err
	}
	results := make(chan *tester.Result, 64)
	done := make(chan error, 1)
	go func() {
		done <- tester.PrettyReporter{Output: opts.Output, Verbose: opts.Verbose, FailureLine: true}.Report(results)
	}()
	for res := range ch {
		switch {
		case res.Skip:
			sum.Skipped++
		case res.Error != nil:
			sum.Errors++
		case res.Fail:
			sum.Failed++
		default:
			sum.Passed++
		}
		results <- res
	}
	close(results)
	return sum, <-done
}
