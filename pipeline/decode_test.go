package pipeline_test

import (
	"encoding/json"
	"fmt"
	"reflect"
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

// TestDecodeConfigNamesListItemsAndMapValues: a wrong value inside a list
// or a map is named by its place, item and key, and shown itself, rather
// than as the whole list or map, or a path without the item
// (encoding/json says "targets.model" for targets[1].model).
func TestDecodeConfigNamesListItemsAndMapValues(t *testing.T) {
	type target struct {
		Model string `json:"model"`
	}
	type Embedded struct {
		Zone string `json:"zone"`
	}
	type config struct {
		*Embedded
		Models  []string                      `json:"models"`
		Tags    map[string]string             `json:"tags"`
		Targets []target                      `json:"targets"`
		Routes  map[string]target             `json:"routes"`
		Grid    [][]int                       `json:"grid"`
		Flags   []bool                        `json:"flags"`
		Weights map[string]float64            `json:"weights"`
		Any     map[string]any                `json:"any"`
		Limit   int64                         `json:"limit"`
		Port    int                           `json:"port,string"`
		Pinned  map[string]*target            `json:"pinned"`
		Nested  map[string][]target           `json:"nested"`
		Windows map[string]*pipeline.Duration `json:"windows"`
	}
	tests := map[string]struct {
		config map[string]any
		want   string // "" for no error
	}{
		"a list item":            {map[string]any{"models": []any{"a", 5}}, `c: models[1]: want a string, got 5`},
		"a map value":            {map[string]any{"tags": map[string]any{"x": "ok", "y": []any{1}}}, `c: tags.y: want a string, got [1]`},
		"null as a map value":    {map[string]any{"tags": map[string]any{"x": nil}}, `c: tags.x: want a string, got null`},
		"null as a number":       {map[string]any{"weights": map[string]any{"w": nil}}, `c: weights.w: want a number, got null`},
		"a key of a list's item": {map[string]any{"targets": []any{map[string]any{"model": "a"}, map[string]any{"model": 5}}}, `c: targets[1].model: want a string, got 5`},
		"a key of a map's value": {map[string]any{"routes": map[string]any{"eu": map[string]any{"model": 5}}}, `c: routes.eu.model: want a string, got 5`},
		"an unknown key there":   {map[string]any{"routes": map[string]any{"eu": map[string]any{"modle": "m"}}}, `c: routes.eu: unknown key "modle" (known: model)`},
		"a list in a list":       {map[string]any{"grid": []any{[]any{1}, []any{2, "x"}}}, `c: grid[1][1]: want a whole number, got "x"`},
		"a list of booleans":     {map[string]any{"flags": "yes"}, `c: flags: want a list of true or false, got "yes"`},
		"a list in a map":        {map[string]any{"nested": map[string]any{"a": []any{map[string]any{"model": false}}}}, `c: nested.a[0].model: want a string, got false`},
		"a big number, exactly":  {map[string]any{"limit": uint64(1 << 63)}, `c: limit: want a whole number, got 9223372036854775808`},
		"a value as written":     {map[string]any{"limit": "<5 & >1"}, `c: limit: want a whole number, got "<5 & >1"`},
		"a quoted number":        {map[string]any{"port": "80x"}, `c: port: want a whole number in a string, got "80x"`},
		"a promoted key":         {map[string]any{"zone": 5}, `c: zone: want a string, got 5`},
		"a duration in a map":    {map[string]any{"windows": map[string]any{"a": "1s", "b": "soon"}}, `c: windows.b: want a duration like "30s", got "soon"`},
		"null where it may be":   {map[string]any{"any": map[string]any{"a": nil}, "pinned": map[string]any{"a": nil}, "windows": map[string]any{"a": nil}}, ""},
		"a good config":          {map[string]any{"models": []any{"a"}, "port": "80", "zone": "z", "routes": map[string]any{"eu": map[string]any{"model": "m"}}}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var cfg config
			err := pipeline.DecodeConfig("c", tt.config, &cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestDecodeConfigBuildsOnWhatDstHolds: as encoding/json, a key not in the
// config keeps the value dst held (a stage's defaults), a map is added to,
// a list is replaced and null clears a pointer.
func TestDecodeConfigBuildsOnWhatDstHolds(t *testing.T) {
	type inner struct {
		A, B int
	}
	type config struct {
		Max   int            `json:"max"`
		Keep  string         `json:"keep"`
		Inner inner          `json:"inner"`
		Tags  map[string]int `json:"tags"`
		List  []int          `json:"list"`
		Ptr   *inner         `json:"ptr"`
		Gone  *inner         `json:"gone"`
	}
	cfg := config{Max: 1, Keep: "kept", Inner: inner{A: 1, B: 2}, Tags: map[string]int{"a": 1},
		List: []int{1, 2, 3}, Ptr: &inner{A: 7}, Gone: &inner{}}
	err := pipeline.DecodeConfig("c", map[string]any{"max": 5, "inner": map[string]any{"b": 3}, "tags": map[string]any{"b": 2},
		"list": []any{9}, "ptr": map[string]any{"b": 8}, "gone": nil}, &cfg)
	want := config{Max: 5, Keep: "kept", Inner: inner{A: 1, B: 3}, Tags: map[string]int{"a": 1, "b": 2},
		List: []int{9}, Ptr: &inner{A: 7, B: 8}}
	if err != nil || fmt.Sprint(cfg.Max, cfg.Keep, cfg.Inner, cfg.Tags, cfg.List, *cfg.Ptr, cfg.Gone) !=
		fmt.Sprint(want.Max, want.Keep, want.Inner, want.Tags, want.List, *want.Ptr, want.Gone) {
		t.Errorf("got %+v (%v), want %+v", cfg, err, want)
	}
}

func TestDecodeJSON(t *testing.T) {
	type limits struct {
		PerMinute int64 `json:"per_minute"`
	}
	type spec struct {
		Name   string            `json:"name"`
		Models []string          `json:"models"`
		Limits limits            `json:"limits"`
		Meta   map[string]string `json:"metadata"`
	}
	tests := []struct{ name, data, want string }{
		{"good", `{"name":"a","models":["x"],"limits":{"per_minute":5},"metadata":{"k":"v"}}`, ""},
		{"a number past int64, as sent", `{"limits":{"per_minute":92233720368547758070}}`, `limits.per_minute: want a whole number, got 92233720368547758070`},
		{"an item", `{"models":["x", {"a": 1}]}`, `models[1]: want a string, got {"a":1}`},
		{"an object", `{"limits": [1]}`, `limits: want an object, got [1]`},
		{"not an object", `[1]`, `want an object, got [1]`},
		{"a long value", `{"name":[` + strings.Repeat(`"xxxxxxxx",`, 10) + `1]}`, `name: want a string, got an array`},
		{"an escaped key", `{"metadata":{"a\"b":5}}`, `metadata.a"b: want a string, got 5`},
		{"an unknown key", `{"limits":{"rpm":5}}`, `limits: unknown key "rpm" (known: per_minute)`},
		{"not JSON", `{"name":`, `not valid JSON: unexpected end of JSON input, at byte 8`},
		{"a key twice", `{"limits":{"per_minute":5,"per_minute":500}}`, `limits.per_minute: given twice`},
		{"a key twice, in another case", `{"name":"a","Name":"b"}`, `Name: given twice (first as "name")`},
		{"a map's key twice", `{"metadata":{"k":"v","k":"w"}}`, `metadata.k: given twice`},
		{"a map's keys in two cases", `{"metadata":{"k":"v","K":"w"}}`, ""},
		{"space around", " \n{\"name\" : \"a\" , \"models\" : [ \"x\" , 5 ] }\n", `models[1]: want a string, got 5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s spec
			err := pipeline.DecodeJSON([]byte(tt.data), &s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// FuzzDecodeJSON: whatever the JSON, DecodeJSON decodes what encoding/json
// decodes, or refuses it when encoding/json does (or for the null as a
// map's value, the unknown key and the key given twice that it refuses on
// purpose).
func FuzzDecodeJSON(f *testing.F) {
	type item struct {
		N int     `json:"n"`
		F float64 `json:"f"`
	}
	type doc struct {
		S     string            `json:"s"`
		L     []item            `json:"l"`
		M     map[string]*item  `json:"m"`
		T     map[string]string `json:"t"`
		P     *item             `json:"p"`
		A     any               `json:"a"`
		Bytes []byte            `json:"bytes"`
		D     pipeline.Duration `json:"d"`
	}
	f.Add(`{"s":"x","l":[{"n":1},{"f":2.5}],"m":{"a":{"n":3},"b":null},"t":{"k":"v"},"p":{"n":1},"a":[1,{"x":null}],"bytes":"aGk=","d":"1s"}`)
	f.Add(`{"l":[{"n":"x"}]}`)
	f.Add(`{"S":"case","t":{"a\u00e9":"\"q\""}}`)
	f.Fuzz(func(t *testing.T, data string) {
		var want, got doc
		dec := json.NewDecoder(strings.NewReader(data))
		dec.DisallowUnknownFields()
		wantErr := dec.Decode(&want)
		if wantErr == nil && strings.Trim(data[dec.InputOffset():], " \t\r\n") != "" {
			wantErr = fmt.Errorf("more") // DecodeJSON takes one value
		}
		gotErr := pipeline.DecodeJSON([]byte(data), &got)
		if gotErr != nil {
			if wantErr == nil && !strings.Contains(gotErr.Error(), "got null") && !strings.Contains(gotErr.Error(), "given twice") {
				t.Fatalf("%s: DecodeJSON refused it (%v); encoding/json did not", data, gotErr)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("%s: encoding/json refused it (%v); DecodeJSON did not", data, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", data, got, want)
		}
	})
}

// TestBuildErrorsSayWhereAListItemIsWrong: a wrong value in a list's item
// is located at the item's key in the config file, which its path leads
// to (with encoding/json's "targets.model" it led nowhere, and the error
// was put at the entry).
func TestBuildErrorsSayWhereAListItemIsWrong(t *testing.T) {
	source := func(path string) string { return "tollgate.yaml<" + path + ">" }
	_, err := pipeline.Build([]pipeline.Spec{
		{Name: "d", Kind: "decoding", Config: map[string]any{"targets": []any{map[string]any{"model": "m"}, map[string]any{"model": 5}}}},
		{Name: "e", Kind: "decoding", Config: map[string]any{"routes": map[string]any{"eu": map[string]any{"model": []any{}}}}},
	}, pipeline.Env{Source: source})
	want := `tollgate.yaml<pipeline[0].config.targets[1].model>: pipeline[0] (d): config: targets[1].model: want a string, got 5` + "\n" +
		`tollgate.yaml<pipeline[1].config.routes.eu.model>: pipeline[1] (e): config: routes.eu.model: want a string, got []`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// BenchmarkDecodeConfig decodes a stage config of the size the built-ins
// have; it runs once per stage at load and reload.
func BenchmarkDecodeConfig(b *testing.B) {
	config := map[string]any{"name": "n", "ttl": "5s", "batch": map[string]any{"max_events": 100, "max_age": 3},
		"targets": []any{map[string]any{"upstream": "a", "model": "m"}, map[string]any{"upstream": "b"}},
		"routes":  map[string]any{"eu": map[string]any{"upstream": "c"}, "us": map[string]any{"upstream": "d"}}}
	b.ReportAllocs()
	for b.Loop() {
		var cfg decodingConfig
		if err := pipeline.DecodeConfig("c", config, &cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// shorthand is a config value written as a bare name or as a map, as the
// fallback stage's targets are: it decodes itself.
type shorthand struct {
	Name  string `json:"name"`
	Model string `json:"model"`
}

func (s *shorthand) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Name)
	}
	type plain shorthand
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(s))
}

// TestDecodeConfigLooksInsideATypeThatDecodesItself: a struct that
// decodes itself with encoding/json gets the same messages as any other,
// rather than encoding/json's with its Go type names.
func TestDecodeConfigLooksInsideATypeThatDecodesItself(t *testing.T) {
	var cfg struct {
		Targets []shorthand `json:"targets"`
	}
	tests := map[string]struct {
		config map[string]any
		want   string
	}{
		"a wrong type inside": {map[string]any{"targets": []any{"a", map[string]any{"model": 5}}}, `c: targets[1].model: want a string, got 5`},
		"an unknown key":      {map[string]any{"targets": []any{"a", map[string]any{"modle": "m"}}}, `c: targets[1]: unknown key "modle" (known: model, name)`},
		"neither form":        {map[string]any{"targets": []any{"a", 5}}, `c: targets[1]: want a map, got 5`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := pipeline.DecodeConfig("c", tt.config, &cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
	if err := pipeline.DecodeConfig("c", map[string]any{"targets": []any{"a", map[string]any{"name": "b", "model": "m"}}}, &cfg); err != nil ||
		fmt.Sprint(cfg.Targets) != "[{a } {b m}]" {
		t.Errorf("got %v, %v", cfg.Targets, err)
	}
}
