package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses a YAML config document into a nested map and an index of
// the line that sets each path. A document that cannot be parsed gives
// problems instead; name labels them ("" for the built-in default).
func parseYAML(name string, data []byte) (map[string]any, map[string]int, []Problem) {
	root, ps := oneDocument(name, data)
	if ps != nil {
		return nil, nil, ps
	}
	lines := make(map[string]int)
	if root == nil {
		return map[string]any{}, lines, nil // an empty file
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, []Problem{{
			Source:  sourceLine(name, root.Line),
			rank:    rankFile,
			line:    root.Line,
			Message: "want a map of settings at the top level, got " + nodeKind(root),
		}}
	}
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		return nil, nil, yamlProblems(name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	indexLines(root, "", lines)
	return m, lines, nil
}

// oneDocument returns the top node of the one YAML document in data, or nil
// when there is none. A second document with content is a problem: read
// alone, it would be dropped without a word. Documents of comments only
// are skipped, as they set nothing: "---" above a header comment is common.
func oneDocument(name string, data []byte) (*yaml.Node, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			return nil, yamlProblems(name, err)
		}
		if len(doc.Content) == 0 || isBlank(doc.Content[0]) {
			continue
		}
		if root != nil {
			// doc.Line is the line of the document's "---".
			return nil, []Problem{{
				Source:  sourceLine(name, doc.Line),
				rank:    rankFile,
				line:    doc.Line,
				Message: "a second YAML document; tollgate reads one: merge them, or use one file per gateway",
			}}
		}
		root = doc.Content[0]
	}
}

// isBlank reports whether n is the null a document of comments only holds,
// as opposed to a null written out ("~", "null").
func isBlank(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

// indexLines records in lines the line of every key and list item under n.
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.AliasNode:
		indexLines(n.Alias, path, lines)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				indexLines(v, path, lines) // "<<: *anchor" sets keys here
				continue
			}
			p := joinKey(path, k.Value)
			lines[p] = k.Line
			indexLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := joinIndex(path, i)
			lines[p] = item.Line
			indexLines(item, p, lines)
		}
	}
}

// yamlLine matches the "yaml: line 3: ...", "line 3: ..." and "yaml: ..."
// forms of go.yaml.in/yaml errors.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// yamlProblems turns a YAML parse or decode error into problems with lines.
func yamlProblems(name string, err error) []Problem {
	msgs := []string{err.Error()}
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		msgs = te.Errors
	}
	ps := make([]Problem, 0, len(msgs))
	for _, msg := range msgs {
		p := Problem{Source: sourceLine(name, 0), Message: msg, rank: rankFile}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1]) // 0 when there is no line
			p.Source, p.line, p.Message = sourceLine(name, line), line, m[2]
		}
		ps = append(ps, p)
	}
	return ps
}

// sourceLine formats "name:line", or just name when line is unknown.
func sourceLine(name string, line int) string {
	if name == "" {
		name = defaultName
	}
	if line <= 0 {
		return name
	}
	return name + ":" + strconv.Itoa(line)
}

// nodeKind names a YAML node's kind for messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a map"
	case yaml.AliasNode:
		return nodeKind(n.Alias)
	}
	return "a single value"
}
