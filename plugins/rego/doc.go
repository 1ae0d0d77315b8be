// Package rego is the policy stage: kind rego runs OPA Rego policies on
// each call's request and, optionally, on its answer.
//
// A stage loads .rego files, directories and OPA bundle directories once,
// when the pipeline is built, compiles them with the network built-ins
// removed (unless its config allows them), and compiles its queries. Per
// call it only builds the input document (straight as OPA values, with only
// the fields its policies read) and evaluates one prepared query, which
// returns the whole decision: deny, patch and headers. The query runs from
// OPA's plan of it (internal/plan), or on OPA's evaluator (topdown) when
// the plan uses what the plan evaluator does not run (engine.go). A
// decision that depends only on small fields of the call (the model, the
// customer) is cached per policy generation. The contract, the input
// document and the ready guardrails in policies/ are described in
// docs/policies.md.
//
// Policy files are watched (by polling their size and modification time):
// a change is compiled off the request path and swapped in atomically; a
// policy that fails to compile is rejected, the one in force stays, and the
// error is logged and shown by [Statuses] (the host's /admin/policies).
//
// This is the only package that imports OPA.
package rego
