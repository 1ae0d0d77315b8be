package policies_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/plugins/rego"
)

// TestGuardrails runs every _test.rego under this directory with OPA's
// test runner, as `tollgate policy test policies` does.
func TestGuardrails(t *testing.T) {
	var out bytes.Buffer
	sum, err := rego.RunTests(context.Background(), []string{"."}, rego.TestOptions{Output: &out, Verbose: testing.Verbose()})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() {
		t.Fatalf("%d passed, %d failed, %d errors", sum.Passed, sum.Failed, sum.Errors)
	}
}
