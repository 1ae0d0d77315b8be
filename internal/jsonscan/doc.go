// Package jsonscan checks and skims JSON without decoding it: Valid says
// whether a body is well-formed, Fields walks an object's top-level fields
// as raw text, and Int reads a number field. The gateway needs only a few
// fields of a request or answer (model, stream, usage), so it never builds
// a document; these are the hot path of every call.
//
// They are written here rather than taken from a JSON library because they
// measured 2–3× faster than gjson on the same 1 KB chat body (Valid 0.32
// against 0.67 µs, Fields 0.14 against 0.43 µs; BenchmarkValid*,
// BenchmarkFields): a string, the bulk of a prompt, is skipped eight bytes
// at a time. Each is fuzzed against encoding/json.
package jsonscan
