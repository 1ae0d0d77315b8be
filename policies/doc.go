// Package policies holds tollgate's ready Rego guardrails (in guardrails/)
// and runs their unit tests as part of `go test ./...`. The guardrails are
// documented in docs/policies.md and in a comment at the top of each file.
package policies
