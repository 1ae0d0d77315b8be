package loadtest

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/config"
)

// defaultStages returns the embedded default pipeline, each stage as a
// one-line JSON object (a YAML flow mapping), so that a config template
// can be "the default pipeline plus one stage" whatever the default is
// when the harness runs.
func defaultStages() ([]string, []string, error) {
	var doc struct {
		Pipeline []map[string]any `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal(config.Default(), &doc); err != nil {
		return nil, nil, fmt.Errorf("reading the default config: %v", err)
	}
	var names, out []string
	for _, s := range doc.Pipeline {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, nil, err
		}
		name, _ := s["name"].(string)
		names = append(names, name)
		out = append(out, string(b))
	}
	return names, out, nil
}

// splitDefault returns the default stages before, or from, the first of
// anchors that the default pipeline has.
func splitDefault(from bool, anchors ...string) ([]string, error) {
	names, stages, err := defaultStages()
	if err != nil {
		return nil, err
	}
	for _, a := range anchors {
		for i, n := range names {
			if n == a {
				if from {
					return stages[i:], nil
				}
				return stages[:i], nil
			}
		}
	}
	return nil, fmt.Errorf("the default pipeline %v has none of the stages %v", names, anchors)
}
