package config

import (
	"reflect"
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

// RegisterFlags defines the config flags on fs: the standard --listen,
// --admin-listen, --data-dir, --log-level and --log-format, and a hidden
// dotted flag for every other key of a section, such as
// --server.idle-timeout for server.idle_timeout. Pass fs to Load in
// Options.Flags after parsing it; a flag overrides the file and the
// environment only when it is given on the command line.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("listen", "", "gateway listener `host:port` (config: listen)")
	fs.String("admin-listen", "", "admin listener `host:port`, empty for none (config: admin_listen)")
	fs.String("data-dir", "", "`directory` for embedded state (config: data_dir)")
	fs.String("log-level", "", "log `level`: debug, info, warn or error (config: log.level)")
	fs.String("log-format", "", "log `format`: auto, text or json (config: log.format)")
	standard := make(map[string]bool, len(flagKeys))
	for _, k := range flagKeys {
		standard[k] = true
	}
	for _, path := range sectionKeys(reflect.TypeFor[Config](), "") {
		if standard[path] {
			continue
		}
		// Hidden, or --help would list some 40 of them. Strings for every
		// type: the value is checked as an environment variable's is, so a
		// bad one is a problem naming its flag, and a boolean takes its
		// value as a word ("--metrics.enabled false" must not mean true).
		name := strings.ReplaceAll(path, "_", "-")
		fs.String(name, "", "config: "+path)
		_ = fs.MarkHidden(name) // fails only for a flag not defined
	}
}

// sectionKeys lists the paths of t's keys that are under a section, like
// server.idle_timeout: the keys a dotted flag can set. Maps and lists
// (providers, pipeline) have no fixed keys and are left out.
func sectionKeys(t reflect.Type, prefix string) []string {
	var paths []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("koanf")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct:
			paths = append(paths, sectionKeys(f.Type, joinKey(prefix, tag))...)
		case f.Type.Kind() == reflect.Map, f.Type.Kind() == reflect.Slice:
		case prefix != "":
			paths = append(paths, joinKey(prefix, tag))
		}
	}
	return paths
}
