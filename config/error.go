package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error reports everything wrong with a configuration at once. Load returns
// it, as a *Error, when the configuration can be read but is not valid; use
// [errors.As] to get at the problems, for example to print one per line.
type Error struct {
	// Problems lists every problem found, in file order first, then the
	// environment, then flags, then problems with no source.
	Problems []Problem
}

// Error returns "config: " and the problem when there is one, or a count
// followed by one indented problem per line.
func (e *Error) Error() string {
	switch len(e.Problems) {
	case 0:
		return "config: invalid configuration"
	case 1:
		return "config: " + e.Problems[0].String()
	}
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" problems:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key path in the configuration, like "listen",
	// "providers.openai.base_url" or "pipeline[1].kind". It is empty when
	// the problem concerns a whole source, such as a YAML syntax error.
	Path string
	// Message says what is wrong and, where it helps, what was found:
	// `want host:port, got "8080x"`. It never holds a secret's value.
	Message string
	// Source says where the offending value came from: "config.yaml:12",
	// "$TOLLGATE_LISTEN", "/srv/.env: TOLLGATE_LISTEN" or "--listen". It is
	// empty when the value is absent or is the built-in default.
	Source string

	rank int // orders problems by source: file, .env, environment, flags, none
	line int // the line in the file, when rank is rankFile
}

// String formats the problem as "source: path: message", leaving out
// whichever of source and path is empty.
func (p Problem) String() string {
	var b strings.Builder
	for _, s := range []string{p.Source, p.Path} {
		if s != "" {
			b.WriteString(s)
			b.WriteString(": ")
		}
	}
	b.WriteString(p.Message)
	return b.String()
}

// sortProblems puts problems in the order Error documents.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.rank, b.rank),
			cmp.Compare(a.line, b.line),
			strings.Compare(a.Path, b.Path),
			strings.Compare(a.Message, b.Message),
		)
	})
}
