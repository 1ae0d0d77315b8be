package wasm

import (
	"fmt"
	"os"
)

// maxModuleSize bounds the module file tollgate reads whole. Plugins built
// with Go are a few MiB (the conformance plugin 3.6 MiB), large ones tens.
const maxModuleSize = 128 << 20

// checkModuleFile refuses, before it is read, a path that is not a regular
// file (a device such as /dev/zero would be read forever) or is over
// maxModuleSize. A path that cannot be read is left to the reader to
// report.
func checkModuleFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (it is a %s): point it at a .wasm file", path, fi.Mode().Type())
	}
	if fi.Size() > maxModuleSize {
		return fmt.Errorf("%s is %d MiB, over the %d MiB a module may have", path, fi.Size()>>20, maxModuleSize>>20)
	}
	return nil
}
