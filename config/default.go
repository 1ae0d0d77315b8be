package config

import (
	"bytes"
	_ "embed"
)

//go:embed default.yaml
var defaultYAML []byte

// defaultName labels the embedded default in problems that point into it.
const defaultName = "(built-in default)"

// Default returns the embedded default configuration as YAML. Load uses it
// when Options.Path is empty, and it supplies every key a config file leaves
// out. The result is a copy the caller may keep or change.
func Default() []byte {
	return bytes.Clone(defaultYAML)
}
