package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// flagKeys maps the standard flag names to key paths.
var flagKeys = map[string]string{
	"listen":       "listen",
	"admin-listen": "admin_listen",
	"data-dir":     "data_dir",
	"log-level":    "log.level",
	"log-format":   "log.format",
}

// flagKey returns the key path a flag sets: a standard flag's key, or for a
// flag whose name is a dotted path ("server.idle-timeout") that path with
// "-" read as "_". Other flags, like --config, are not config keys.
func flagKey(name string) (string, bool) {
	if k, ok := flagKeys[name]; ok {
		return k, true
	}
	if strings.Contains(name, ".") {
		return strings.ReplaceAll(name, "-", "_"), true
	}
	return "", false
}

// RegisterFlags defines the standard config flags on fs: --listen,
// --admin-listen, --data-dir, --log-level and --log-format. Pass fs to Load
// in Options.Flags after parsing it; a flag overrides the file and the
// environment only when it is given on the command line.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("listen", "", "gateway listener `host:port` (config: listen)")
	fs.String("admin-listen", "", "admin listener `host:port`, empty for none (config: admin_listen)")
	fs.String("data-dir", "", "`directory` for embedded state (config: data_dir)")
	fs.String("log-level", "", "log `level`: debug, info, warn or error (config: log.level)")
	fs.String("log-format", "", "log `format`: auto, text or json (config: log.format)")
}
