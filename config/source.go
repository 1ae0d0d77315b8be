package config

import (
	"slices"
	"strconv"
	"strings"
)

// Ranks order problems by where their value came from; see Problem.rank.
const (
	rankFile = iota
	rankDotenv
	rankEnv
	rankFlag
	rankNone
)

// layer is one source of configuration values, kept so a problem at a path
// can name the file line, variable or flag that set the value.
type layer struct {
	data map[string]any // the values this layer set, nested

	file  string         // a YAML layer's file name; "" for the built-in default
	lines map[string]int // a YAML layer's path -> line

	labels map[string]string // an env or flag layer's path -> "$VAR" or "--flag"
	ranks  map[string]int    // an env layer's path -> rankEnv or rankDotenv
	rank   int               // the rank of a YAML or flag layer
}

// Source says where the value at path ("pipeline[2]",
// "providers.openai.base_url") was set: "tollgate.yaml:14",
// "$TOLLGATE_LISTEN", "--listen"; or a parent's source when no source set
// the path itself. It is empty for the built-in default and for a Config
// not made by Load. Messages about a value found after loading start with
// it, as Load's problems do.
func (c *Config) Source(path string) string {
	if c.src == nil {
		return ""
	}
	p := Problem{Path: path}
	c.src.locate(&p)
	return p.Source
}

// sources resolves a path to the layer that set it. Layers are kept in
// precedence order, lowest first.
type sources struct {
	layers []*layer
	// under, when set, answers for the paths under its top-level key
	// instead: a reloaded pipeline's lines are its new file's.
	under map[string]*sources
}

// of is the sources that answer for path.
func (s *sources) of(path string) *sources {
	if segs := splitPath(path); len(segs) > 0 && s.under[segs[0]] != nil {
		return s.under[segs[0]]
	}
	return s
}

// locate fills p.Source, p.rank and p.line from the highest layer that set
// p.Path, or one of its parents when no layer set the path itself (a
// missing required key is blamed on whoever wrote the map around it).
func (s *sources) locate(p *Problem) {
	if p.Source != "" {
		return // located where it was found, like a syntax error
	}
	s = s.of(p.Path)
	p.rank = rankNone
	segs := splitPath(p.Path)
	for n := len(segs); n > 0; n-- {
		for i := len(s.layers) - 1; i >= 0; i-- {
			l := s.layers[i]
			if !covers(l.data, segs[:n]) {
				continue
			}
			l.describe(p, joinSegs(segs[:n]))
			return
		}
	}
}

// setAt says where path itself was set, or "" when the built-in default
// set it or nothing did (a parent set does not count, unlike locate).
func (s *sources) setAt(path string) string {
	s = s.of(path)
	segs := splitPath(path)
	for i := len(s.layers) - 1; i >= 0; i-- {
		if covers(s.layers[i].data, segs) {
			p := Problem{Path: path}
			s.layers[i].describe(&p, path)
			return p.Source
		}
	}
	return ""
}

// describe sets the source of p from layer l, which set path.
func (l *layer) describe(p *Problem, path string) {
	switch {
	case l.lines != nil:
		if l.file == "" {
			return // the built-in default: no source to name
		}
		p.rank = l.rank
		p.Source = l.file
		for segs := splitPath(path); len(segs) > 0; segs = segs[:len(segs)-1] {
			if line, ok := l.lines[joinSegs(segs)]; ok {
				p.line = line
				p.Source = l.file + ":" + strconv.Itoa(line)
				return
			}
		}
	case l.labels != nil:
		key := path
		if _, ok := l.labels[key]; !ok {
			// The path is a map this layer filled: name its first variable.
			var under []string
			for k := range l.labels {
				if strings.HasPrefix(k, path+".") {
					under = append(under, k)
				}
			}
			if len(under) == 0 {
				return
			}
			key = slices.Min(under)
		}
		p.Source = l.labels[key]
		p.rank = l.rank
		if r, ok := l.ranks[key]; ok {
			p.rank = r
		}
	}
}

// covers reports whether data holds segs, or holds a non-map value at one
// of its parents (a list or scalar set there replaces everything below).
func covers(data map[string]any, segs []string) bool {
	var cur any = data
	for _, seg := range segs {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return false
			}
			cur = next
		case []any:
			i, ok := parseIndex(seg)
			if !ok || i >= len(v) {
				return false
			}
			cur = v[i]
		default:
			return true
		}
	}
	return true
}

// joinKey appends a map key to a path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinIndex appends a list index to a path.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// splitPath splits "pipeline[1].config" into "pipeline", "[1]", "config".
func splitPath(path string) []string {
	var segs []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part[1:], '[') + 1
			if i == 0 {
				segs = append(segs, part)
				break
			}
			segs = append(segs, part[:i])
			part = part[i:]
		}
	}
	return segs
}

// joinSegs is the inverse of splitPath.
func joinSegs(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// parseIndex parses a "[3]" path segment.
func parseIndex(seg string) (int, bool) {
	s, ok := strings.CutPrefix(seg, "[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// Reloaded is the configuration in force after a reload that loaded next:
// c's settings, which take effect at restart only, with next's pipeline
// and next's environment, which the new pipeline's stages read. Source
// answers for the pipeline from next's layers (its file as it is now) and
// for the rest from c's (the file as it was when they were loaded).
func (c *Config) Reloaded(next *Config) *Config {
	r := *c
	r.Pipeline, r.env = next.Pipeline, next.env
	pipeline := next.src
	if pipeline == nil {
		pipeline = &sources{}
	}
	r.src = &sources{under: map[string]*sources{"pipeline": pipeline}}
	if c.src != nil {
		r.src.layers = c.src.layers
	}
	return &r
}
