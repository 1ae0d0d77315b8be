package rego

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// errJSON is returned for a body that is not well-formed JSON.
var errJSON = errors.New("not well-formed JSON")

// jsonValue parses a JSON document straight into an OPA value: no
// map[string]any in between, no second pass. Keys and values that LLM
// bodies repeat ("role", "content", "user") come from a shared table of
// immutable terms instead of being allocated per call.
func jsonValue(b []byte) (ast.Value, error) {
	p := jsonParser{b: b}
	p.space()
	t, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, fmt.Errorf("%w: trailing data at byte %d", errJSON, p.i)
	}
	return t.Value, nil
}

// jsonFields parses only the named top-level fields of a JSON object into
// an OPA object: the others are checked for well-formedness and skipped
// without building anything. A policy that reads body.max_tokens does not
// pay for the messages. A document that is not an object has no fields.
//
// With tx, the prompt texts are collected in the same pass (see textScan).
func jsonFields(b []byte, keys []string, tx *textScan) (ast.Value, error) {
	p := jsonParser{b: b, texts: tx}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		if tx != nil {
			tx.failed = true // gjson's reading of a body that is not an object
		}
		if err := p.skip(0); err != nil {
			return nil, err
		}
		return ast.NewObject(), nil
	}
	p.keep = keys
	t, err := p.object(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, fmt.Errorf("%w: trailing data at byte %d", errJSON, p.i)
	}
	return t.Value, nil
}

type jsonParser struct {
	b []byte
	i int
	// keep, if set, names the fields of the top-level object to build;
	// the others are skipped.
	keep []string
	// texts, if set, reads the prompt texts from the top-level object's
	// fields that hold them, instead of skipping those.
	texts *textScan
	// kept gathers the kept fields of the top-level object, and uncached
	// is set when one could not be parsed from where it sits (see
	// keptObject).
	kept     [8]keptField
	nkept    int
	keptMore []keptField // past the eighth
	uncached bool
}

// maxDepth bounds nesting, so a hostile body cannot exhaust the stack.
const maxDepth = 128

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errJSON, what, p.i)
}

func (p *jsonParser) value(depth int) (*ast.Term, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	if depth > maxDepth {
		return nil, p.fail("nested too deep")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == 't':
		return p.lit("true", ast.InternedTerm(true))
	case c == 'f':
		return p.lit("false", ast.InternedTerm(false))
	case c == 'n':
		return p.lit("null", ast.NullTerm())
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.fail("unexpected character")
}

func (p *jsonParser) lit(word string, t *ast.Term) (*ast.Term, error) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return nil, p.fail("bad literal")
	}
	p.i += len(word)
	return t, nil
}

func (p *jsonParser) number() (*ast.Term, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			p.i++
			digits++
			continue
		}
		break
	}
	if digits == 0 {
		return nil, p.fail("bad number")
	}
	raw := p.b[start:p.i]
	if t := ast.InternedIntNumberTermFromString(string(raw)); t != nil {
		return t, nil
	}
	if !json.Valid(raw) {
		return nil, p.fail("bad number")
	}
	return ast.NumberTerm(json.Number(raw)), nil
}

// str reads a string; one without escapes is a single allocation.
func (p *jsonParser) str() (*ast.Term, error) {
	start := p.i
	raw, escaped, err := p.scanString()
	if err != nil {
		return nil, err
	}
	if !escaped {
		if t, ok := commonTerms[string(raw)]; ok {
			return t, nil
		}
		return ast.StringTerm(string(raw)), nil
	}
	var s string
	if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
		return nil, p.fail("bad string")
	}
	return ast.StringTerm(s), nil
}

func (p *jsonParser) object(depth int) (*ast.Term, error) {
	p.i++
	p.space()
	var items [][2]*ast.Term
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return ast.NewTerm(ast.NewObject()), nil
	}
	if depth > 0 || p.keep == nil {
		items = make([][2]*ast.Term, 0, 8)
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("want a key")
		}
		filter := depth == 0 && p.keep != nil
		keyStart := p.i
		var k *ast.Term
		var err error
		keep := true
		var raw []byte
		if filter {
			k, keep, raw, err = p.key()
		} else {
			k, err = p.str()
		}
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("want ':'")
		}
		p.i++
		p.space()
		if filter && p.texts != nil && (raw == nil || keep && p.texts.wants(raw)) {
			p.texts.failed = true // a key with escapes, or texts read by name too
		}
		if !keep && raw != nil && p.texts != nil && p.texts.field(p, raw, depth+1) {
			// read in place of skipped
		} else if !keep {
			if err := p.skip(depth + 1); err != nil {
				return nil, err
			}
		} else if filter {
			// Skipped now, parsed in keptObject unless shared.
			f := keptField{k: k, start: keyStart, vStart: p.i}
			if err := p.skip(depth + 1); err != nil {
				p.i = f.vStart
				if f.v, err = p.value(depth + 1); err != nil {
					return nil, err
				}
				p.uncached = true
			}
			f.end = p.i
			if p.nkept < len(p.kept) {
				p.kept[p.nkept] = f
				p.nkept++
			} else {
				p.keptMore = append(p.keptMore, f)
			}
		} else {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, [2]*ast.Term{k, v})
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			if filter {
				return p.keptObject()
			}
			return ast.NewTerm(ast.NewObject(items...)), nil
		default:
			return nil, p.fail("want ',' or '}'")
		}
	}
}

// keptField is a field of the top-level object that jsonFields keeps: its
// key, and its value, or until that is parsed, where the field sits.
type keptField struct {
	k, v               *ast.Term
	start, vStart, end int
}

// keptObject builds the object of the kept fields. The fields a policy
// reads by name are few and small (max_tokens, model, user) and repeat
// between calls, so objects of at most maxKeptKey bytes of fields are
// shared between calls, keyed by the fields' bytes (terms are immutable),
// like interned strings: a call alike in those bytes parses nothing. The
// table is bounded and starts over when full.
func (p *jsonParser) keptObject() (*ast.Term, error) {
	var buf [maxKeptKey]byte
	key := buf[:0]
	cache := !p.uncached
	fields := p.kept[:p.nkept]
	if len(p.keptMore) > 0 {
		fields = append(slices.Clip(fields), p.keptMore...)
	}
	for i, f := range fields {
		if len(key)+1+f.end-f.start > maxKeptKey {
			cache = false
			break
		}
		if i > 0 {
			key = append(key, ',')
		}
		key = append(key, p.b[f.start:f.end]...)
	}
	if cache {
		if t, ok := getBytes(&keptTable, key); ok {
			return t, nil
		}
	}
	items := make([][2]*ast.Term, len(fields))
	for i, f := range fields {
		v := f.v
		if v == nil {
			q := jsonParser{b: p.b, i: f.vStart}
			var err error
			if v, err = q.value(1); err != nil {
				return nil, err
			}
		}
		items[i] = [2]*ast.Term{f.k, v}
	}
	t := ast.NewTerm(ast.NewObject(items...))
	if cache {
		keptTable.put(string(key), t)
	}
	return t, nil
}

// maxKeptKey bounds the fields' bytes of a shared object of kept fields:
// the table holds at most maxInterned of them, ~1 MB and their objects.
const maxKeptKey = 256

var keptTable termTable[string]

// key reads a key of the top-level object when only some fields are
// kept, and whether its field is kept: a key that is not is not
// allocated.
//
// It also returns the key's raw bytes when it has no escapes.
func (p *jsonParser) key() (*ast.Term, bool, []byte, error) {
	start := p.i
	raw, escaped, err := p.scanString()
	if err != nil {
		return nil, false, nil, err
	}
	plain := raw
	if escaped {
		plain = nil
		p.i = start
		k, err := p.str()
		if err != nil {
			return nil, false, nil, err
		}
		raw = []byte(k.Value.(ast.String))
	}
	for _, w := range p.keep {
		if string(raw) == w {
			if t, ok := commonTerms[w]; ok {
				return t, true, plain, nil
			}
			return ast.StringTerm(w), true, plain, nil
		}
	}
	return nil, false, plain, nil
}

// scanString moves past a string and returns its raw bytes (between the
// quotes) and whether it holds escapes.
func (p *jsonParser) scanString() (raw []byte, escaped bool, err error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false, p.fail("want a string")
	}
	start := p.i
	p.i++
	for p.i < len(p.b) {
		// Prompts are long runs of plain text: skip them a word at a time.
		if p.i = jsonscan.PlainEnd(p.b, p.i); p.i >= len(p.b) {
			break
		}
		switch p.b[p.i] {
		case '"':
			p.i++
			return p.b[start+1 : p.i-1], escaped, nil
		case '\\':
			escaped = true
			p.i += 2
		default:
			return nil, false, p.fail("control character in string")
		}
	}
	return nil, false, p.fail("unterminated string")
}

// skip moves past a value, checking it is well-formed, building nothing.
func (p *jsonParser) skip(depth int) error {
	if p.i >= len(p.b) {
		return p.fail("unexpected end")
	}
	if depth > maxDepth {
		return p.fail("nested too deep")
	}
	switch c := p.b[p.i]; {
	case c == '{', c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == end {
			p.i++
			return nil
		}
		for {
			p.space()
			if c == '{' {
				if _, _, err := p.scanString(); err != nil {
					return err
				}
				p.space()
				if p.i >= len(p.b) || p.b[p.i] != ':' {
					return p.fail("want ':'")
				}
				p.i++
				p.space()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.i >= len(p.b) {
				return p.fail("unterminated object or array")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case end:
				p.i++
				return nil
			default:
				return p.fail("want ',' or '" + string(end) + "'")
			}
		}
	case c == '"':
		raw, escaped, err := p.scanString()
		if err == nil && escaped && !json.Valid(p.b[p.i-len(raw)-2:p.i]) {
			return p.fail("bad string")
		}
		return err
	case c == 't':
		_, err := p.lit("true", nil)
		return err
	case c == 'f':
		_, err := p.lit("false", nil)
		return err
	case c == 'n':
		_, err := p.lit("null", nil)
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		if p.b[p.i] == '-' {
			p.i++
		}
		for p.i < len(p.b) && strings.IndexByte("0123456789.eE+-", p.b[p.i]) >= 0 {
			p.i++
		}
		if !json.Valid(p.b[start:p.i]) {
			return p.fail("bad number")
		}
		return nil
	}
	return p.fail("unexpected character")
}

func (p *jsonParser) array(depth int) (*ast.Term, error) {
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return ast.ArrayTerm(), nil
	}
	terms := make([]*ast.Term, 0, 4)
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		terms = append(terms, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return ast.NewTerm(ast.NewArray(terms...)), nil
		default:
			return nil, p.fail("want ',' or ']'")
		}
	}
}

// commonTerms are strings LLM request and response bodies repeat. Terms
// are immutable once built, so one is shared by every call.
var commonTerms = func() map[string]*ast.Term {
	words := []string{
		"model", "messages", "role", "content", "type", "text", "name", "user", "assistant",
		"system", "developer", "tool", "tools", "function", "tool_calls", "tool_call_id",
		"max_tokens", "max_completion_tokens", "max_output_tokens", "temperature", "top_p",
		"stream", "stream_options", "include_usage", "stop", "n", "seed", "metadata",
		"input", "instructions", "input_text", "output_text", "image_url", "url", "detail",
		"contents", "parts", "systemInstruction", "generationConfig", "maxOutputTokens",
		"response_format", "json_object", "json_schema", "tool_choice", "auto", "none",
		"parameters", "properties", "description", "required", "object", "string",
		"id", "choices", "message", "index", "finish_reason", "usage", "prompt_tokens",
		"completion_tokens", "total_tokens", "delta", "candidates", "usageMetadata",
		"input_tokens", "output_tokens", "stop_reason", "end_turn", "thinking",
	}
	m := make(map[string]*ast.Term, len(words))
	for _, w := range words {
		m[w] = ast.StringTerm(w)
	}
	return m
}()

// jsonNumber is a decimal string as a JSON number.
func jsonNumber(s string) json.Number { return json.Number(s) }
