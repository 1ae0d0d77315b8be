package config

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML writes the configuration as a YAML file would hold it, every key
// set, each value that did not come from the built-in default followed by
// a comment saying where it was set (Source): "# tollgate.yaml:3",
// "# $TOLLGATE_LISTEN", "# --listen". A secret from the environment that
// appears in a value is written as [REDACTED], as in Load's messages.
func (c *Config) YAML() ([]byte, error) {
	env, src := c.env, c.src
	if env == nil {
		env = &environment{} // the process environment, as Lookup reads it
	}
	if src == nil {
		src = &sources{} // not from Load: no sources
	}
	w := shower{src: src, secrets: strings.NewReplacer(pairs(secretsOf(env, c.SecretVars()))...)}
	root := w.node("", reflect.ValueOf(*c))
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// shower builds the YAML nodes of a Config.
type shower struct {
	src     *sources
	secrets *strings.Replacer
}

// node makes the node of v, found at path.
func (w shower) node(path string, v reflect.Value) *yaml.Node {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return w.scalar(path, "!!null", "null")
		}
		v = v.Elem()
	}
	if v.Type() == durationType {
		return w.scalar(path, "!!str", time.Duration(v.Int()).String())
	}
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := f.Tag.Get("koanf")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			n.Content = append(n.Content, w.key(name), w.node(joinKey(path, name), v.Field(i)))
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Style: flowIfEmpty(v.Len())}
		var keys []string
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			n.Content = append(n.Content, w.key(k), w.node(joinKey(path, k), v.MapIndex(reflect.ValueOf(k))))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: flowIfEmpty(v.Len())}
		for i := range v.Len() {
			n.Content = append(n.Content, w.node(joinIndex(path, i), v.Index(i)))
		}
		return n
	case reflect.String:
		return w.scalar(path, "!!str", w.secrets.Replace(v.String()))
	case reflect.Bool:
		return w.scalar(path, "!!bool", strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int64:
		return w.scalar(path, "!!int", strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		return w.scalar(path, "!!float", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	return w.scalar(path, "!!str", w.secrets.Replace(fmt.Sprint(v.Interface())))
}

func (w shower) key(name string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
}

// scalar makes a value's node, with its source as a comment.
func (w shower) scalar(path, tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value, LineComment: w.src.setAt(path)}
}

// flowIfEmpty writes an empty map or list as {} or [].
func flowIfEmpty(n int) yaml.Style {
	if n == 0 {
		return yaml.FlowStyle
	}
	return 0
}
