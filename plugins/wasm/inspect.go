package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/tetratelabs/wazero"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Report is what [Inspect] found in a module.
type Report struct {
	Path   string
	Size   int
	SHA256 string
	// ABI is the version of the module's marker export, 0 without one;
	// OtherABIs are markers of versions this host does not serve.
	ABI       int
	OtherABIs []int
	// Exported are the hook functions the module exports; Hooks those it
	// serves (from tollgate_hooks, when it has that export).
	Exported []string
	Hooks    []string
	// Imports are every imported function, "module.name".
	Imports []string
	// Grants are the config keys the module's imports need.
	Grants []string
	// MemoryMinPages is the memory the module starts with.
	MemoryMinPages uint32
	// DeadlineChecks reports whether tollgate can add its cheap deadline
	// checks (else it uses wazero's slower close-on-deadline).
	DeadlineChecks bool
	// Problem says why the module is not a valid plugin; nil if it is.
	Problem error
}

type nopDeliverer struct{}

func (nopDeliverer) Deliver(context.Context, string, []byte) error { return nil }

// Inspect reads the module at path and reports its ABI version, hooks and
// imports, or in Report.Problem exactly why it is not a valid plugin. The
// error is for a file that cannot be read at all.
func Inspect(ctx context.Context, path string) (*Report, error) {
	if err := checkModuleFile(path); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(bin)
	rep := &Report{Path: path, Size: len(bin), SHA256: hex.EncodeToString(h[:])}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		rep.Problem = fmt.Errorf("the file is not a valid WebAssembly module: %w", err)
		return rep, nil
	}
	s := readShape(cm)
	rep.ABI, rep.OtherABIs, rep.Imports, rep.MemoryMinPages = s.abi, s.others, s.imports, s.memMin
	rep.Exported = abi.HookList(s.exported)
	rep.Hooks = rep.Exported
	if slices.Contains(s.hostImports, "deliver") {
		rep.Grants = append(rep.Grants, "deliver_to")
	}
	if slices.Contains(s.hostImports, "emit") {
		rep.Grants = append(rep.Grants, "emit_to")
	}
	_, _, err = instrument(bin)
	rep.DeadlineChecks = err == nil
	if rep.Problem = checkExports(cm); rep.Problem != nil {
		return rep, nil
	}
	if rep.Problem = checkImports(cm, []string{"x"}, []string{"x"}); rep.Problem != nil {
		return rep, nil
	}
	// Load it as the host would, with every grant, to ask which hooks it
	// serves and to prove it instantiates.
	cfg := Config{Path: path, SHA256: rep.SHA256, PoolSize: 1, MinInstances: 1,
		DeliverTo: []string{"https://inspect.invalid/"}, EmitTo: []string{"inspect"}}
	p, err := Open(ctx, "inspect", cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithDeliverer(nopDeliverer{}))
	if err != nil {
		rep.Problem = err
		return rep, nil
	}
	rep.Hooks = p.Hooks()
	rep.DeadlineChecks = p.instrumented
	return rep, errors.Join(nil, p.Close(ctx))
}
