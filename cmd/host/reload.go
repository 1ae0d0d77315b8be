package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
)

// watchConfig reloads the config on each signal from hup (SIGHUP, which
// serve catches from its start) and, with reload.watch, when the config
// file changes. It sets up before returning and reloads on its own
// goroutine until ctx is done.
//
// A reload builds the new pipeline while the old one serves, swaps it in
// atomically, and retires the old one once its calls in flight are done.
// A config with problems, or a pipeline that fails to build, is rejected
// with every problem logged, and the config in force keeps serving.
func watchConfig(ctx context.Context, hup <-chan os.Signal, op *ops, eng *core.Engine, fs *pflag.FlagSet) {
	path, _ := fs.GetString("config")
	var events chan fsnotify.Event
	var watcher *fsnotify.Watcher
	if path != "" && op.cfg.Load().Reload.Watch {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			// Watch the directory: editors and Kubernetes replace the file
			// (rename, symlink swap) rather than write it in place.
			err = w.Add(filepath.Dir(path))
		}
		if err != nil {
			op.log.Warn("cannot watch the config file; reload with SIGHUP", "path", path, "err", err)
		} else {
			watcher, events = w, w.Events
		}
	}
	go func() {
		if watcher != nil {
			defer watcher.Close()
		}
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				op.log.Info("SIGHUP: reloading the config")
				op.reloadConfig(eng, fs)
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				if affects(ev, path) {
					debounce = time.After(op.cfg.Load().Reload.Debounce)
				}
			case <-debounce:
				debounce = nil
				op.log.Info("the config file changed: reloading", "path", path)
				op.reloadConfig(eng, fs)
			}
		}
	}()
}

// affects reports whether a change in the config's directory may have
// changed the config: the file itself, its .env, or a Kubernetes ConfigMap
// update (the ..data symlink swapped).
func affects(ev fsnotify.Event, path string) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Base(ev.Name)
	return name == filepath.Base(path) || name == ".env" || name == "..data"
}

// reloadConfig loads the config again and swaps in its pipeline.
func (o *ops) reloadConfig(eng *core.Engine, fs *pflag.FlagSet) {
	path, _ := fs.GetString("config")
	cfg, err := config.Load(config.Options{Path: path, Flags: fs})
	if err != nil {
		o.rejectReload(err)
		return
	}
	old := o.cfg.Load()
	pending := restartOnly(old, cfg)
	if len(pending) > 0 {
		o.log.Warn("config reload: these settings take effect only at restart; the running values stay", "keys", pending)
	}
	// Only the pipeline is reloaded: the data dir, the listeners and the
	// providers (routing lives in the engine) stay as they were.
	next := old.Reloaded(cfg)
	ups, err := tollgate.Upstreams(next, slog.New(slog.DiscardHandler))
	if err == nil {
		var p *core.Pipeline
		p, err = tollgate.BuildPipeline(next, ups, o.log, o.instrument())
		if err == nil {
			retired := eng.Swap(p)
			o.reloaded(next, pending, nil)
			o.log.Info("config reloaded: the new pipeline serves new calls; the old one finishes its calls in flight",
				"stages", len(next.Pipeline))
			go o.retire(retired, next.Server.ShutdownTimeout)
			return
		}
	}
	if slices.Contains(pending, "providers") {
		// A stage naming a provider the file adds fails against the
		// providers in force: say why it is not configured yet.
		err = errors.Join(err, fmt.Errorf("providers: the file changes them, and they change only at restart: the new pipeline was built with the providers in force (%s)",
			strings.Join(providerNames(old), ", ")))
	}
	o.rejectReload(err)
}

// rejectReload logs every problem of a rejected reload.
func (o *ops) rejectReload(err error) {
	var problems []string
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			problems = append(problems, p.String())
		}
	} else {
		for _, e := range flatten(err) {
			problems = append(problems, e.Error())
		}
	}
	o.log.Error("config reload rejected; the config in force keeps serving", "problems", problems)
	o.reloaded(nil, nil, problems)
}

// retire closes a swapped-out pipeline once its calls are done.
func (o *ops) retire(p *core.Pipeline, timeout time.Duration) {
	ctx, cancel := shutdownContext(timeout)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		o.log.Error("closing the previous pipeline after a reload", "err", err)
	}
}

// restartOnly lists the top-level settings that differ and that a reload
// does not apply: everything but the pipeline.
func restartOnly(a, b *config.Config) []string {
	var out []string
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "Pipeline" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, f.Tag.Get("koanf"))
		}
	}
	return out
}
