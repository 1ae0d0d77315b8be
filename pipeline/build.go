package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

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
		fail := func(err error) { errs = append(errs, located(env, s, err)) }
		if err := checkSpec(s, seen); err != nil {
			fail(err)
			continue
		}
		f, err := factory(s)
		if err != nil {
			fail(err)
			continue
		}
		built, err := f(s, env)
		if err != nil {
			fail(wrapBuildError(s, err))
			continue
		}
		if c, ok := built.(Closer); ok {
			closers = append(closers, c)
		}
		if v, ok := built.(Validator); ok {
			if err := v.Validate(); err != nil {
				fail(wrapBuildError(s, err))
				continue
			}
		}
		stage, isStage := built.(core.Stage)
		completer, isCompleter := built.(core.Completer)
		if !isStage && !isCompleter {
			fail(fmt.Errorf("%s: kind %q built a %T, which is neither a stage nor a completer", s.Path(), s.Kind, built))
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

// located starts each of err's lines with the place in the config file
// that wrote the entry, when env knows it ("tollgate.yaml:14: ").
func located(env Env, s Spec, err error) error {
	if env.Source == nil {
		return err
	}
	one := func(err error) error {
		if src := env.Source(configPath(s, err.Error())); src != "" {
			return fmt.Errorf("%s: %w", src, err)
		}
		return err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range j.Unwrap() {
			errs = append(errs, one(e))
		}
		return errors.Join(errs...)
	}
	return one(err)
}

// configPath is the config path an entry's error message is about, for
// Env.Source: the entry ("pipeline[2]"), or deeper as far as the message's
// leading "config: " segments are keys of its config ("config: sinks[1]:
// batch: ..." is "pipeline[4].config.sinks[1].batch"; "config: " may be
// left out), then the key an "unknown key" names.
func configPath(s Spec, msg string) string {
	path := fmt.Sprintf("pipeline[%d]", s.Index)
	rest, ok := strings.CutPrefix(msg, s.Path()+": config: ")
	if !ok {
		// a stage may name a key of its config without "config: "
		// ("pipeline[0] (guard): paths: stat …")
		rest, ok = strings.CutPrefix(msg, s.Path()+": ")
		seg, _, _ := strings.Cut(rest, ": ")
		if _, isKey := lookupSegment(s.Config, seg); !ok || !isKey {
			return path
		}
	}
	path += ".config"
	var at any = s.Config
	for {
		seg, after, found := strings.Cut(rest, ": ")
		if !found {
			break
		}
		v, ok := lookupSegment(at, seg)
		if !ok {
			break
		}
		path, at, rest = path+"."+seg, v, after
	}
	if quoted, ok := strings.CutPrefix(rest, "unknown key "); ok {
		q, _ := strconv.QuotedPrefix(quoted)
		if key, _ := strconv.Unquote(q); key != "" {
			if _, ok := lookupSegment(at, key); ok {
				path += "." + key
			}
		}
	}
	return path
}

// lookupSegment follows seg ("batch", "sinks[1]", "batch.max_events")
// down from v, a decoded YAML value.
func lookupSegment(v any, seg string) (any, bool) {
	for _, part := range strings.Split(seg, ".") {
		name, index, isItem := strings.Cut(part, "[")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[name]; !ok {
			return nil, false
		}
		if isItem {
			i, err := strconv.Atoi(strings.TrimSuffix(index, "]"))
			l, ok := v.([]any)
			if err != nil || !ok || i < 0 || i >= len(l) {
				return nil, false
			}
			v = l[i]
		}
	}
	return v, true
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
