package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/config"
)

// ExampleLoad shows a configuration with mistakes in the file and in the
// environment, and the problems Load reports, one per line.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "tollgate")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "tollgate.yaml"), []byte(`lisen: 127.0.0.1:9000
log:
  level: verbose
pipeline:
  - {name: call, kind: builtin}
  - {name: track}
`), 0o600)

	_, err := config.Load(config.Options{
		Path:    filepath.Join(dir, "tollgate.yaml"),
		Environ: []string{"TOLLGATE_SERVER__IDLE_TIMEOUT=2m", "TOLLGATE_LISTEN=8080x"},
	})
	if cerr, ok := errors.AsType[*config.Error](err); ok {
		for _, p := range cerr.Problems {
			fmt.Println(filepath.Base(p.Source)+":", p.Path+":", p.Message)
		}
	}
	// Output:
	// tollgate.yaml:1: lisen: unknown key (did you mean "listen"?)
	// tollgate.yaml:3: log.level: want one of debug, info, warn, error; got "verbose"
	// tollgate.yaml:6: pipeline[1].kind: required
	// $TOLLGATE_LISTEN: listen: want host:port, got "8080x"
}

// ExampleConfig_APIKey shows reading a provider's key, which the Config
// names but never holds.
func ExampleConfig_APIKey() {
	cfg, err := config.Load(config.Options{Environ: []string{"OPENAI_API_KEY=sk-example"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"openai", "anthropic"} {
		if _, envVar, ok := cfg.APIKey(name); ok {
			fmt.Println(name, "has a key from", envVar)
		} else {
			fmt.Println(name, "has no key: set", envVar)
		}
	}
	// Output:
	// openai has a key from OPENAI_API_KEY
	// anthropic has no key: set ANTHROPIC_API_KEY
}
