package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// TestConcurrency runs many calls through a small pool, some of them
// trapping, with the race detector in mind: every call gets its own answer,
// failed instances are replaced, and the pool never holds more instances
// than its size.
func TestConcurrency(t *testing.T) {
	for _, name := range conformancePlugins {
		t.Run(name, func(t *testing.T) {
			p := open(t, name, func(c *Config) { c.PoolSize = 2 })
			stage := NewStage(p, "conf", upstreams)
			const workers, calls = 8, 8
			var wg sync.WaitGroup
			errs := make(chan error, workers*calls)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range calls {
						model := "conf-model"
						if (w+i)%7 == 0 {
							model = "conf-trap"
						}
						req := request(model)
						req.ID = fmt.Sprintf("req-%d-%d", w, i)
						resp, err := stage.Handle(context.Background(), req, echo)
						var e *core.Error
						switch {
						case model == "conf-trap" && (!errors.As(err, &e) || e.Code != "plugin_trap"):
							errs <- fmt.Errorf("%s: want a trap, got %v", req.ID, err)
						case model == "conf-model" && (err != nil || resp.Header.Get("X-Model") != "conf-rewritten"):
							errs <- fmt.Errorf("%s: %v", req.ID, err)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := p.pool.idleCount(); n > 2 {
				t.Fatalf("%d idle instances in a pool of 2", n)
			}
		})
	}
}
