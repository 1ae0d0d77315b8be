package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/pipeline"
)

// decodingConfig has a key of each shape a stage config has: a nested map,
// a list of maps, a map of maps, keys promoted from an embedded struct.
type decodingConfig struct {
	Shared
	TTL     pipeline.Duration       `json:"ttl"`
	Batch   *batchConfig            `json:"batch"`
	Targets []targetConfig          `json:"targets"`
	Routes  map[string]targetConfig `json:"routes"`
	Ignored string                  `json:"-"`
}

type Shared struct {
	Name string `json:"name"`
}

type batchConfig struct {
	MaxEvents int `json:"max_events"`
	MaxAge    int `json:"max_age"`
}

type targetConfig struct {
	Upstream string `json:"upstream"`
	Model    string `json:"model"`
}

func init() {
	// refusing names a key of its config the way the policy and plugin
	// kinds do, without "config: ".
	pipeline.RegisterKind("refusing", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		return nil, fmt.Errorf("paths: stat %v: no such file or directory", s.Config["paths"])
	})
	pipeline.RegisterKind("decoding", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		var cfg decodingConfig
		if err := s.Decode(&cfg); err != nil {
			return nil, err
		}
		return &recorder{name: s.Name, log: &calls}, nil
	})
}

func TestDecodeConfigSaysWhereAnUnknownKeyIsAndWhatIsKnown(t *testing.T) {
	const top = "(known: batch, name, routes, targets, ttl)"
	tests := map[string]struct {
		config map[string]any
		want   string // "" for no error
	}{
		"top level":                      {map[string]any{"tll": "5s"}, `pipeline[2] (d): config: unknown key "tll" ` + top},
		"a nested map":                   {map[string]any{"batch": map[string]any{"max_evnts": 3}}, `pipeline[2] (d): config: batch: unknown key "max_evnts" (known: max_age, max_events)`},
		"an item of a list":              {map[string]any{"targets": []any{map[string]any{"upstream": "a"}, map[string]any{"modle": "m"}}}, `pipeline[2] (d): config: targets[1]: unknown key "modle" (known: model, upstream)`},
		"a map of maps":                  {map[string]any{"routes": map[string]any{"eu": map[string]any{"upstrem": "a"}}}, `pipeline[2] (d): config: routes.eu: unknown key "upstrem" (known: model, upstream)`},
		"an ignored field":               {map[string]any{"Ignored": "x"}, `pipeline[2] (d): config: unknown key "Ignored" ` + top},
		"the first in key order, of two": {map[string]any{"zz": 1, "aa": 1}, `unknown key "aa"`},
		// encoding/json matches keys regardless of case: so does the search.
		"another case is the same key": {map[string]any{"TTL": "5s", "Batch": map[string]any{"MAX_EVENTS": 1}}, ""},
		"a promoted key":               {map[string]any{"name": "n"}, ""},
		"a list for a map":             {map[string]any{"targets": "x"}, `pipeline[2] (d): config: targets: want a list of maps, got "x"`},
		"a fraction":                   {map[string]any{"batch": map[string]any{"max_events": 1.5}}, `config: batch.max_events: want a whole number, got 1.5`},
		"a long value":                 {map[string]any{"batch": map[string]any{"max_age": strings.Repeat("x", 80)}}, `config: batch.max_age: want a whole number, got a string`},
		"a wrong type":                 {map[string]any{"batch": map[string]any{"max_events": "many"}}, `pipeline[2] (d): config: batch.max_events: want a whole number, got "many"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var cfg decodingConfig
			err := pipeline.Spec{Name: "d", Index: 2, Config: tt.config}.Decode(&cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%v) = %v, want %q", tt.config, err, tt.want)
			}
		})
	}
}

func TestDecodeConfigNamesTheKeysTheCallerTookOut(t *testing.T) {
	var cfg targetConfig
	err := pipeline.DecodeConfig("sinks[0]", map[string]any{"bach": 1}, &cfg, "batch", "type")
	want := `sinks[0]: unknown key "bach" (known: batch, model, type, upstream)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestBuildErrorsSayWhereTheConfigSetThem: with Env.Source, each problem
// starts with where the config file set what it is about: the key when the
// message leads to one, else the entry.
func TestBuildErrorsSayWhereTheConfigSetThem(t *testing.T) {
	source := func(path string) string {
		if strings.HasPrefix(path, "pipeline[3]") {
			return "" // an entry from the built-in default: no source
		}
		return "tollgate.yaml<" + path + ">"
	}
	_, err := pipeline.Build([]pipeline.Spec{
		{Name: "d", Kind: "decoding", Config: map[string]any{"targets": []any{map[string]any{"modle": "m"}}}},
		{Name: "e", Kind: "decoding", Config: map[string]any{"batch": map[string]any{"max_events": "many"}}},
		{Name: "", Kind: "nope", OnError: "sometimes"},
		{Name: "f", Kind: "decoding", Config: map[string]any{"tll": 1}},
		{Name: "g", Kind: "refusing", Config: map[string]any{"paths": []any{"/nowhere"}}},
		{Name: "h", Kind: "refusing"},
	}, pipeline.Env{Source: source})
	if err == nil {
		t.Fatal("want errors")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`tollgate.yaml<pipeline[0].config.targets[0].modle>: pipeline[0] (d): config: targets[0]: unknown key "modle" (known: model, upstream)`,
		`tollgate.yaml<pipeline[1].config.batch.max_events>: pipeline[1] (e): config: batch.max_events: want a whole number, got "many"`,
		`tollgate.yaml<pipeline[2]>: pipeline[2]: name: required`,
		`tollgate.yaml<pipeline[2]>: pipeline[2] (): on_error: want fail_open or fail_closed, got "sometimes"`,
		`pipeline[3] (f): config: unknown key "tll" (known: batch, name, routes, targets, ttl)`,
		`tollgate.yaml<pipeline[4].config.paths>: pipeline[4] (g): paths: stat [/nowhere]: no such file or directory`,
		`tollgate.yaml<pipeline[5]>: pipeline[5] (h): paths: stat <nil>: no such file or directory`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDecodeConfigNamesTheKeyOfAValueItsTypeRefused: a value that its own
// type's UnmarshalJSON refuses (a duration) is named by its key, which
// encoding/json's error leaves out.
func TestDecodeConfigNamesTheKeyOfAValueItsTypeRefused(t *testing.T) {
	var cfg struct {
		TTL   pipeline.Duration `json:"ttl"`
		Batch struct {
			MaxAge pipeline.Duration `json:"max_age"`
		} `json:"batch"`
		Steps  []pipeline.Duration          `json:"steps"`
		ByName map[string]pipeline.Duration `json:"by_name"`
	}
	tests := map[string]struct {
		config map[string]any
		want   string
	}{
		"top level":     {map[string]any{"ttl": "soon"}, `c: ttl: want a duration like "30s", got "soon"`},
		"nested":        {map[string]any{"ttl": "5s", "batch": map[string]any{"max_age": 5}}, `c: batch.max_age: want a duration like "30s", got 5`},
		"an item":       {map[string]any{"steps": []any{"1s", "later"}}, `c: steps[1]: want a duration like "30s", got "later"`},
		"a map's value": {map[string]any{"by_name": map[string]any{"a": "1s", "b": "-"}}, `c: by_name.b: want a duration like "30s", got "-"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := pipeline.DecodeConfig("c", tt.config, &cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestDecodeConfigPathsTwoStructsDeep: below the first level, the path is
// dotted, as in a type error's.
func TestDecodeConfigPathsTwoStructsDeep(t *testing.T) {
	var cfg struct {
		Outbox struct {
			Retry struct {
				Max int `json:"max"`
			} `json:"retry"`
		} `json:"outbox"`
	}
	err := pipeline.DecodeConfig("c", map[string]any{"outbox": map[string]any{"retry": map[string]any{"maks": 1}}}, &cfg)
	if want := `c: outbox.retry: unknown key "maks" (known: max)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
