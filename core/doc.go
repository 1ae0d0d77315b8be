// Package core holds tollgate's engine and the contracts every stage, wire
// format and plugin host is written against: the request and response
// types, usage and usage events, the stage and completion interfaces, and the
// error taxonomy shared by the host binary and the library.
//
// A call enters the engine in one of three ways — [Engine.Do],
// [Engine.Handler] or [Engine.Transport] — and runs through an ordered chain
// of [Stage]s. The first stage listed is the outermost: it sees the request
// first and the response last. When the call's outcome is final (a complete
// answer, an early refusal, an upstream error or a client that went away), each
// [Completer] sees it exactly once; that is where usage is tracked.
//
// core imports only the standard library.
package core
