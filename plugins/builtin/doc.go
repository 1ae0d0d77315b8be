// Package builtin holds the stages compiled into tollgate and registers each
// with the pipeline under its name (kind builtin): validate, call and track.
// Import it for its side effect to make them available.
package builtin
