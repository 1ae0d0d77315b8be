package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Factory builds a stage from its config entry. What it returns implements
// [core.Stage], [core.Completer], or both; it may also implement [Closer]
// to release resources when the pipeline is retired, and [Validator] to
// check itself once built.
type Factory func(spec Spec, env Env) (any, error)

// Closer releases a stage's resources; Close must return once ctx is done.
type Closer interface {
	Close(ctx context.Context) error
}

// Validator checks a built stage before the pipeline goes live.
type Validator interface {
	Validate() error
}

// Defaulter reports the on_error a stage kind uses when its entry sets none.
type Defaulter interface {
	DefaultOnError() string
}

var (
	mu       sync.RWMutex
	kinds    = map[string]Factory{}
	builtins = map[string]Factory{}
)

// KindBuiltin is the kind of the stages compiled into tollgate.
const KindBuiltin = "builtin"

// RegisterKind makes a stage kind available, e.g. "rego". It panics if the
// kind is registered twice, as that is a programming error.
func RegisterKind(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := kinds[kind]; dup || kind == KindBuiltin {
		panic("pipeline: kind registered twice: " + kind)
	}
	kinds[kind] = f
}

// RegisterBuiltin makes a built-in stage available under its name.
func RegisterBuiltin(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := builtins[name]; dup {
		panic("pipeline: builtin registered twice: " + name)
	}
	builtins[name] = f
}

// Kinds lists the registered kinds, builtin first.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	return kindNames()
}

// Builtins lists the registered built-in stage names.
func Builtins() []string {
	mu.RLock()
	defer mu.RUnlock()
	return builtinNames()
}

// BuiltinName is the built-in an entry names: its name up to a "/", so that
// "track/billing" and "track/audit" are two track stages.
func BuiltinName(entryName string) string {
	name, _, _ := strings.Cut(entryName, "/")
	return name
}

// factory finds the factory for an entry.
func factory(s Spec) (Factory, error) {
	mu.RLock()
	defer mu.RUnlock()
	if s.Kind == KindBuiltin {
		f, ok := builtins[BuiltinName(s.Name)]
		if !ok {
			return nil, fmt.Errorf("%s: unknown builtin stage %q: known builtins are %s", s.Path(), BuiltinName(s.Name), strings.Join(builtinNames(), ", "))
		}
		return f, nil
	}
	f, ok := kinds[s.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: unknown kind %q: known kinds are %s", s.Path(), s.Kind, strings.Join(kindNames(), ", "))
	}
	return f, nil
}

// builtinNames and kindNames list names; the caller holds mu.
func builtinNames() []string {
	out := make([]string, 0, len(builtins))
	for k := range builtins {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func kindNames() []string {
	out := []string{KindBuiltin}
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out[1:])
	return out
}
