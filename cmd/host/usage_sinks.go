package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
)

// configuredSinks lists the sinks of the config's track stages: a sink
// added to the config has no queue in the file until a gateway runs with
// it, and is no typo for that.
func configuredSinks(cfg *config.Config) []string {
	var names []string
	for _, s := range cfg.Pipeline {
		if s.Kind == pipeline.KindBuiltin && pipeline.BuiltinName(s.Name) == "track" {
			names = append(names, builtin.SinkNames(s.Config)...)
		}
	}
	return names
}

// unknownSink is a sink filter that names no sink: a typo would otherwise
// list, replay or purge nothing and say only "0".
type unknownSink struct {
	value string
	sinks []string // the sinks there are, sorted
}

// says is the message, with the filter called name: the admin API's
// parameter (sink) or the command's flag (--sink).
func (u *unknownSink) says(name string) string {
	if len(u.sinks) == 0 {
		return fmt.Sprintf("%s %q: no such sink; the usage database and the config have no sinks", name, u.value)
	}
	return fmt.Sprintf("%s %q: no such sink; the sinks are %s (the config's, and those the usage database holds events for)",
		name, u.value, strings.Join(u.sinks, ", "))
}

func (u *unknownSink) Error() string { return u.says("--sink") }

// checkSink returns an unknownSink when sink is set and is none of the
// stored or configured sinks.
func checkSink(sink string, stored, configured []string) *unknownSink {
	if sink == "" || slices.Contains(stored, sink) || slices.Contains(configured, sink) {
		return nil
	}
	all := slices.Concat(stored, configured)
	slices.Sort(all)
	return &unknownSink{value: sink, sinks: slices.Compact(all)}
}
