package config

import (
	"bytes"
	"strings"

	"github.com/knadh/koanf/parsers/dotenv"
)

// dotenvProblem says where the .env file data, which err says does not
// parse, goes wrong. godotenv's messages say no line and quote the rest of
// the file, secrets and all, so the message is this package's own.
func dotenvProblem(path string, data []byte, err error) Problem {
	n, line := badDotenvLine(data)
	p := Problem{Source: sourceLine(path, n), rank: rankDotenv}
	text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
	if strings.HasPrefix(err.Error(), "unterminated quoted value") {
		name := text[:max(strings.IndexAny(text, "=:"), 0)]
		p.Message = "the value of " + quote(strings.TrimSpace(name)) + " opens a quote that is never closed"
		return p
	}
	p.Message = "want NAME=value, got " + quote(nameOnly(text))
	return p
}

// badDotenvLine returns the number and text of the line where the
// statement that fails to parse starts: the line after the longest run of
// whole lines that parses. (A quoted value may span lines, so a shorter
// run can fail where a longer one parses.) Each run ends in a newline, as
// godotenv takes a last line of "oops" without one for a variable with an
// empty name.
func badDotenvLine(data []byte) (int, string) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	for k := len(lines) - 1; k > 0; k-- {
		if _, err := dotenv.Parser().Unmarshal(bytes.Join(lines[:k], nil)); err == nil {
			return k + 1, string(lines[k])
		}
	}
	return 1, string(lines[0])
}

// nameOnly keeps of a .env line what should be a variable's name, up to and
// including the first "=", ":" or blank, and marks the rest, which may be a
// secret, with "…".
func nameOnly(line string) string {
	if i := strings.IndexAny(line, "=: \t"); i >= 0 && i < len(line)-1 {
		return line[:i+1] + "…"
	}
	return line
}
