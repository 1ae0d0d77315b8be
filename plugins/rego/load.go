package rego

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// networkBuiltins reach outside the process; they are removed from the
// capabilities unless a stage allows the network. opa.runtime is removed
// with them: it describes the host, which a guardrail has no need to see.
var networkBuiltins = map[string]bool{
	"http.send":          true,
	"net.lookup_ip_addr": true,
	"opa.runtime":        true,
}

// capabilities returns the built-ins a stage's policies may call: every
// built-in of this OPA and tollgate's own (builtins.go), minus the network ones (http.send, net.*) unless
// allowNetwork. With the network off, AllowNet is empty, so even a built-in
// added later cannot connect anywhere.
func capabilities(allowNetwork bool) *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = append(c.Builtins, builtinDecls()...)
	if allowNetwork {
		return c
	}
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool {
		return networkBuiltins[b.Name] || strings.HasPrefix(b.Name, "net.")
	})
	c.AllowNet = []string{}
	return c
}

// sources is what a stage's paths hold: parsed modules and data.
type sources struct {
	modules map[string]*ast.Module
	data    map[string]any
	files   []string // every file read, for the reload watcher
}

// isTestFile reports whether a file holds policy unit tests, which a stage
// does not load: they run with `tollgate policy test`.
func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// isBundleDir reports whether path is an OPA bundle directory.
func isBundleDir(path string) bool {
	st, err := os.Stat(filepath.Join(path, ".manifest"))
	return err == nil && !st.IsDir()
}

// load reads the configured paths and the config's data.
func load(paths []string, data map[string]any) (*sources, error) {
	src := &sources{modules: map[string]*ast.Module{}, data: map[string]any{}}
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("paths: %w", err))
			continue
		}
		if st.IsDir() && isBundleDir(p) {
			errs = append(errs, src.loadBundle(p))
			continue
		}
		errs = append(errs, src.loadFiles(p))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(src.modules) == 0 {
		return nil, fmt.Errorf("paths: no .rego policy found in %s", strings.Join(paths, ", "))
	}
	if err := mergeData(src.data, data, "data"); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	slices.Sort(src.files)
	return src, nil
}

// testFilter leaves out _test.rego files and hidden files.
func testFilter(abspath string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if depth > 0 && strings.HasPrefix(name, ".") {
		return true
	}
	return !info.IsDir() && isTestFile(name)
}

// policyFiles lists the files under paths that a load reads: what
// testFilter keeps, less the files OPA's loader skips in a directory. An
// editor's save-by-rename leaves a temporary file next to the policy for a
// moment (p.rego.tmp, p.rego~): counted, a poll that saw it would reload
// once for it and once again when it is gone.
func policyFiles(paths []string) ([]string, error) {
	files, err := loader.FilteredPaths(paths, testFilter)
	return slices.DeleteFunc(files, func(f string) bool {
		return !slices.Contains(paths, f) && !loadedExt[filepath.Ext(f)]
	}), err
}

// loadedExt are the extensions OPA's loader reads in a directory or a
// bundle (a bundle's .manifest included).
var loadedExt = map[string]bool{".rego": true, ".json": true, ".yaml": true, ".yml": true, ".manifest": true}

// loadFiles loads a file or a plain directory.
func (src *sources) loadFiles(path string) error {
	res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).Filtered([]string{path}, testFilter)
	if err != nil {
		return loadError(err)
	}
	for name, f := range res.Modules {
		src.modules[name] = f.Parsed
	}
	files, _ := policyFiles([]string{path})
	src.files = append(src.files, files...)
	return mergeData(src.data, res.Documents, path)
}

// loadBundle loads an OPA bundle directory.
func (src *sources) loadBundle(path string) error {
	b, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithFilter(testFilter).AsBundle(path)
	if err != nil {
		return loadError(err)
	}
	for _, m := range b.Modules {
		src.modules[m.Path] = m.Parsed
	}
	files, _ := policyFiles([]string{path})
	src.files = append(src.files, files...)
	return mergeData(src.data, b.Data, path)
}

// mergeData merges src into dst; two sources setting one leaf conflict.
func mergeData(dst, src map[string]any, from string) error {
	for k, v := range src {
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: data key %q is set twice", from, k)
		}
		merged := maps.Clone(om)
		if err := mergeData(merged, nm, from); err != nil {
			return err
		}
		dst[k] = merged
	}
	return nil
}

// compile compiles the modules with the given capabilities. Each problem is
// its own error, "file:line: code: message".
func compile(mods map[string]*ast.Module, caps *ast.Capabilities) (*ast.Compiler, error) {
	c := ast.NewCompiler().WithCapabilities(caps).WithEnablePrintStatements(false)
	c.Compile(mods)
	if c.Failed() {
		return nil, compileErrors(c.Errors, caps)
	}
	return c, nil
}

// newStore returns the in-memory data store. Reads return OPA values, so
// that evaluation never converts data per call.
func newStore(data map[string]any) storage.Store {
	return inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
}

// loadError splits a loader error into one error per problem.
func loadError(err error) error {
	var le loader.Errors
	if errors.As(err, &le) {
		out := make([]error, 0, len(le))
		for _, e := range le {
			out = append(out, oneError(e))
		}
		return errors.Join(out...)
	}
	var ae ast.Errors
	if errors.As(err, &ae) {
		return compileErrors(ae, nil)
	}
	return err
}

func oneError(err error) error {
	var ae *ast.Error
	if errors.As(err, &ae) {
		return compileErrors(ast.Errors{ae}, nil)
	}
	return err
}

// compileErrors turns OPA's errors into one error each, pointing at file
// and line, with a hint for a network built-in used without allow_network.
func compileErrors(errs ast.Errors, caps *ast.Capabilities) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		msg := e.Code + ": " + e.Message
		if e.Location != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", e.Location.File, e.Location.Row, e.Location.Col, msg)
		}
		if strings.Contains(e.Message, "undefined function") {
			for name := range networkBuiltins {
				if strings.Contains(e.Message, "function "+name) {
					msg += " (network built-ins are off for this stage; set allow_network: true to use " + name + ")"
				}
			}
			if strings.Contains(e.Message, "function net.") {
				msg += " (network built-ins are off for this stage; set allow_network: true to use net.*)"
			}
		}
		out = append(out, errors.New(msg))
	}
	return errors.Join(out...)
}

// checkQuery reports a query that names nothing the policies define, a
// likely typo in the config (data.tollgate.reqest).
func checkQuery(c *ast.Compiler, query string) error {
	ref, err := ast.ParseRef(query)
	if err != nil {
		return fmt.Errorf("query %q: %v", query, err)
	}
	if !ref.HasPrefix(ast.DefaultRootRef) {
		return fmt.Errorf("query %q: want a reference under data, e.g. %s", query, DefaultRequestQuery)
	}
	if len(c.GetRulesWithPrefix(ref)) > 0 || len(c.GetRules(ref)) > 0 {
		return nil
	}
	return fmt.Errorf("query %s: no policy defines it: give a policy that package (package %s) or set query", query, strings.TrimPrefix(query, "data."))
}
