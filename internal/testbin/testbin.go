// Package testbin gives end-to-end tests the tollgate binary to run: the
// one make built, named by GATEWAY_BIN (as the Node tests take it), so
// that `make test` builds cmd/host once and tests what ships; or, without
// it (`go test` by hand), a fresh build of the package.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Tollgate returns the path of the binary: GATEWAY_BIN if set, else pkg
// (a cmd/host directory, as go build takes it) built into dir.
func Tollgate(pkg, dir string) (string, error) {
	if p := os.Getenv("GATEWAY_BIN"); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("GATEWAY_BIN: %v", err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("GATEWAY_BIN=%s is not an executable file", p)
		}
		return filepath.Abs(p)
	}
	bin := filepath.Join(dir, "tollgate")
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}
