// Package plan evaluates Rego queries from OPA's plan of them: the
// intermediate representation (package ir) that OPA's planner makes of a
// query and the rules it reaches, and that OPA's WebAssembly compiler
// consumes. A plan is a tree of blocks of simple statements over numbered
// locals (look up a key, scan a collection, call a function or a built-in,
// insert into a set); this package turns it into a compact instruction form
// once, at load, and runs it per call with OPA's values (ast.Value) and
// OPA's own built-in implementations, so that a built-in answers exactly as
// it does under OPA's evaluator (topdown).
//
// Evaluating a plan does no unification, keeps no bindings and builds no
// closures: a rule is a function whose locals are a slice, a rule without
// arguments is evaluated once per evaluation (memoized), and lookups,
// string constants and function targets are resolved at load.
//
// A plan that uses what this package does not run (with, dynamic calls,
// built-ins that need topdown's context such as http.send)
// is refused by [Compile] with an error wrapping [ErrUnsupported]; the
// caller then evaluates that query with topdown.
package plan
