package tollgate

import (
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
)

// checkSinkRefs reports entries that name a sink no track stage has: a
// rego stage's decision_log.sink, a plugin's emit_to. Each stage is built
// on its own, before the track stage that owns the sink, so only the whole
// list can tell. source says where the config set a path (Config.Source).
func checkSinkRefs(specs []pipeline.Spec, source func(path string) string) error {
	have := map[string]bool{}
	for _, s := range specs {
		if s.Kind != pipeline.KindBuiltin || pipeline.BuiltinName(s.Name) != "track" {
			continue
		}
		for _, name := range builtin.SinkNames(s.Config) {
			have[name] = true
		}
	}
	var errs []error
	missing := func(s pipeline.Spec, key, sink string) {
		if sink != "" && !have[sink] {
			at := ""
			if src := source(fmt.Sprintf("pipeline[%d].config.%s", s.Index, key)); src != "" {
				at = src + ": "
			}
			errs = append(errs, fmt.Errorf("%s%s: config: %s: no track stage has a sink named %q; add one to a track stage's sinks, e.g. {type: jsonl, name: %s, path: data/%s.jsonl, usage_events: false}",
				at, s.Path(), key, sink, sink, sink))
		}
	}
	for _, s := range specs {
		switch s.Kind {
		case "rego":
			dl, _ := s.Config["decision_log"].(map[string]any)
			sink, _ := dl["sink"].(string)
			missing(s, "decision_log.sink", sink)
		case "wasm", "process":
			emit, _ := s.Config["emit_to"].([]any)
			for i, v := range emit {
				sink, _ := v.(string)
				missing(s, fmt.Sprintf("emit_to[%d]", i), sink)
			}
		}
	}
	return errors.Join(errs...)
}
