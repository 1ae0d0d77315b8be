package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tollgate-dev/tollgate/core"
)

// Build builds every entry and compiles them into a pipeline, specs[0]
// outermost. It reports every problem it finds, not just the first, as one
// error joined with errors.Join; on failure the stages already built are
// closed.
func Build(specs []Spec, env Env) (*core.Pipeline, error) {
	if env.Log == nil {
		env.Log = slog.Default()
	}
	var (
		errs       []error
		stages     []core.Stage
		completers []core.Completer
		closers    []Closer
		parts      []core.Part
		seen       = map[string]int{}
	)
	for i := range specs {
		s := specs[i]
		s.Index = i
		if err := checkSpec(s, seen); err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := factory(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built, err := f(s, env)
		if err != nil {
			errs = append(errs, wrapBuildError(s, err))
			continue
		}
		if c, ok := built.(Closer); ok {
			closers = append(closers, c)
		}
		if v, ok := built.(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, wrapBuildError(s, err))
				continue
			}
		}
		stage, isStage := built.(core.Stage)
		completer, isCompleter := built.(core.Completer)
		if !isStage && !isCompleter {
			errs = append(errs, fmt.Errorf("%s: kind %q built a %T, which is neither a stage nor a completer", s.Path(), s.Kind, built))
			continue
		}
		parts = append(parts, core.Part{Name: s.Name, Value: built})
		if isStage {
			stage = guard(s, stage, env.Log, built, env.Instrument)
			if env.Instrument != nil {
				stage = env.Instrument.WrapStage(s, stage)
			}
			stages = append(stages, stage)
		}
		if isCompleter {
			completers = append(completers, completer)
		}
	}
	// Entries close in config order, the Deliverer last: what an early
	// stage flushes as it closes (a decision log) goes to the outbox of a
	// later track stage, which must still be open to take it.
	if c, ok := env.Deliverer.(Closer); ok {
		closers = append(closers, c)
	}
	closeAll := func(ctx context.Context) error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c.Close(ctx))
		}
		return errors.Join(errs...)
	}
	if len(errs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		closeAll(ctx)
		return nil, errors.Join(errs...)
	}
	return core.NewPipeline(stages, completers, closeAll, parts...), nil
}

// wrapBuildError prefixes err with the entry's path unless it has it.
func wrapBuildError(s Spec, err error) error {
	msg := err.Error()
	if len(msg) >= len(s.Path()) && msg[:len(s.Path())] == s.Path() {
		return err
	}
	return fmt.Errorf("%s: %w", s.Path(), err)
}

// checkSpec checks the fields every entry has.
func checkSpec(s Spec, seen map[string]int) error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, fmt.Errorf("pipeline[%d]: name: required", s.Index))
	} else if j, dup := seen[s.Name]; dup {
		errs = append(errs, fmt.Errorf("%s: name: %q is already used by pipeline[%d]", s.Path(), s.Name, j))
	} else {
		seen[s.Name] = s.Index
	}
	if s.Kind == "" {
		errs = append(errs, fmt.Errorf("%s: kind: required (one of %v)", s.Path(), Kinds()))
	}
	switch s.OnError {
	case "", FailOpen, FailClosed:
	default:
		errs = append(errs, fmt.Errorf("%s: on_error: want %s or %s, got %q", s.Path(), FailOpen, FailClosed, s.OnError))
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s: timeout: must not be negative", s.Path()))
	}
	return errors.Join(errs...)
}
