package wasm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Export and import names of ABI v1.
const (
	exportABIPrefix = "tollgate_abi_v"
	exportABI       = "tollgate_abi_v1"
	exportHooks     = "tollgate_hooks"
	exportAlloc     = "tollgate_alloc"
	exportMemory    = "memory"
	hostModule      = "tollgate"
	wasiModule      = "wasi_snapshot_preview1"
)

var i32, i64 = api.ValueTypeI32, api.ValueTypeI64

// hookExports are the hook functions, by hook bit index.
var hookExports = [4]string{"tollgate_on_request", "tollgate_on_response", "tollgate_on_stream_event", "tollgate_on_usage"}

// hostFuncs are the host functions of ABI v1 with their signatures.
var hostFuncs = map[string]struct{ params, results []api.ValueType }{
	"log":     {[]api.ValueType{i32, i32, i32}, nil},
	"config":  {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	"deliver": {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	"emit":    {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
}

// shape is what a compiled module offers, read from its exports and imports.
type shape struct {
	// abi is the ABI version of the marker export; 0 without one, and
	// others lists other versions' markers.
	abi    int
	others []int
	// exported is the bit mask of exported hook functions.
	exported int
	// hasHooks reports a tollgate_hooks export.
	hasHooks bool
	imports  []string
	// hostImports are the tollgate host functions imported.
	hostImports []string
	memMin      uint32
	memMax      uint32
	hasMemMax   bool
}

func readShape(cm wazero.CompiledModule) shape {
	var s shape
	for name := range cm.ExportedFunctions() {
		if v, ok := strings.CutPrefix(name, exportABIPrefix); ok {
			if n, err := strconv.Atoi(v); err == nil {
				if n == abi.Version {
					s.abi = n
				} else {
					s.others = append(s.others, n)
				}
			}
		}
	}
	slices.Sort(s.others)
	fns := cm.ExportedFunctions()
	for i, name := range hookExports {
		if _, ok := fns[name]; ok {
			s.exported |= 1 << i
		}
	}
	_, s.hasHooks = fns[exportHooks]
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		s.imports = append(s.imports, mod+"."+name)
		if mod == hostModule {
			s.hostImports = append(s.hostImports, name)
		}
	}
	if m, ok := cm.ExportedMemories()[exportMemory]; ok {
		s.memMin = m.Min()
		s.memMax, s.hasMemMax = m.Max()
	}
	return s
}

// checkExports reports why a module cannot be served as ABI v1, or nil.
func checkExports(cm wazero.CompiledModule) error {
	s := readShape(cm)
	fns := cm.ExportedFunctions()
	if s.abi == 0 {
		if len(s.others) > 0 {
			return fmt.Errorf("the module speaks tollgate plugin ABI v%d, and this tollgate serves ABI v%d only: use a build of the plugin for ABI v%d, or a tollgate that serves v%d",
				s.others[len(s.others)-1], abi.Version, abi.Version, s.others[len(s.others)-1])
		}
		if _, ok := fns["_start"]; ok {
			if _, ok := fns["_initialize"]; !ok {
				return fmt.Errorf("the module is a WASI command (it exports _start) without the %s marker: build plugins as reactors (Go: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) with the tollgate SDK", exportABI)
			}
		}
		return fmt.Errorf("the module is not a tollgate plugin: it exports no %s marker function (see docs/plugin-abi.md)", exportABI)
	}
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		return fmt.Errorf("the module exports no memory named %q, which ABI v1 requires", exportMemory)
	}
	want := map[string][2][]api.ValueType{
		exportABI:   {nil, nil},
		exportAlloc: {{i32}, {i32}},
	}
	if s.hasHooks {
		want[exportHooks] = [2][]api.ValueType{nil, {i32}}
	}
	for _, h := range hookExports {
		if _, ok := fns[h]; ok {
			want[h] = [2][]api.ValueType{{i32, i32}, {i64}}
		}
	}
	for name, sig := range want {
		f, ok := fns[name]
		if !ok {
			return fmt.Errorf("the module exports no function %s, which ABI v1 requires", name)
		}
		if !slices.Equal(f.ParamTypes(), sig[0]) || !slices.Equal(f.ResultTypes(), sig[1]) {
			return fmt.Errorf("the module's export %s has type %s, want %s", name, sigString(f.ParamTypes(), f.ResultTypes()), sigString(sig[0], sig[1]))
		}
	}
	if s.exported == 0 {
		return fmt.Errorf("the module exports no hook: want at least one of %s", strings.Join(hookExports[:], ", "))
	}
	return nil
}

// checkImports refuses imports tollgate does not provide or the config
// does not grant.
func checkImports(cm wazero.CompiledModule, deliverTo, emitTo []string) error {
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasiModule:
			continue
		case hostModule:
			hf, ok := hostFuncs[name]
			if !ok {
				return fmt.Errorf("the module imports %s.%s, which is not a host function of ABI v1 (there are: config, deliver, emit, log)", mod, name)
			}
			if !slices.Equal(f.ParamTypes(), hf.params) || !slices.Equal(f.ResultTypes(), hf.results) {
				return fmt.Errorf("the module imports %s.%s with type %s, want %s", mod, name, sigString(f.ParamTypes(), f.ResultTypes()), sigString(hf.params, hf.results))
			}
			if name == "deliver" && len(deliverTo) == 0 {
				return fmt.Errorf("the module imports tollgate.deliver, but its config grants it no destination: list the URLs it may deliver to under deliver_to, or use a build of the plugin that does not deliver")
			}
			if name == "emit" && len(emitTo) == 0 {
				return fmt.Errorf("the module imports tollgate.emit, but its config grants it no sink: list the sinks it may emit to under emit_to")
			}
		default:
			return fmt.Errorf("the module imports %s.%s, which tollgate does not provide: a plugin may import only %s.{config,deliver,emit,log} and %s", mod, name, hostModule, wasiModule)
		}
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	var b strings.Builder
	b.WriteString("(")
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(p))
	}
	b.WriteString(") -> (")
	for i, r := range results {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(r))
	}
	b.WriteString(")")
	return b.String()
}
