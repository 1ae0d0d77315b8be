package wasm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// pool is a bounded pool of warm instances. At most size instances exist
// at once (a call waits for a token); idle ones are kept LIFO so the warm
// ones stay warm, and those beyond min unused for idleTimeout are closed.
// An instance that failed is closed and not returned: the next call makes a
// fresh one.
type pool struct {
	p           *Plugin
	mode        deadlineMode
	tokens      chan struct{}
	min         int
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*instance
	closed bool
}

func newPool(p *Plugin, size, min int, idleTimeout time.Duration, mode deadlineMode) *pool {
	return &pool{p: p, mode: mode, tokens: make(chan struct{}, size), min: min, idleTimeout: idleTimeout}
}

// acquire takes a token and an idle instance, or makes one. It waits for a
// token until ctx is done.
func (pl *pool) acquire(ctx context.Context) (*instance, error) {
	select {
	case pl.tokens <- struct{}{}:
	default:
		select {
		case pl.tokens <- struct{}{}:
		case <-ctx.Done():
			return nil, &core.Error{Kind: core.KindTimeout, Code: "plugin_busy", Stage: pl.p.name, Err: ctx.Err(),
				Message: fmt.Sprintf("every instance of plugin %s was busy (pool_size %d) until the call's deadline", pl.p.name, cap(pl.tokens))}
		}
	}
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		<-pl.tokens
		return nil, &core.Error{Kind: core.KindInternal, Code: "plugin_closed", Stage: pl.p.name, Message: "plugin " + pl.p.name + " is closed"}
	}
	if n := len(pl.idle); n > 0 {
		inst := pl.idle[n-1]
		pl.idle[n-1] = nil
		pl.idle = pl.idle[:n-1]
		pl.mu.Unlock()
		return inst, nil
	}
	pl.mu.Unlock()
	inst, err := pl.create(ctx)
	if err != nil {
		<-pl.tokens
		return nil, &core.Error{Kind: core.KindInternal, Code: "plugin_instantiate_failed", Stage: pl.p.name, Err: err,
			Message: fmt.Sprintf("plugin %s: %v", pl.p.name, err)}
	}
	return inst, nil
}

// create makes an instance outside the token accounting.
func (pl *pool) create(ctx context.Context) (*instance, error) {
	return pl.p.newInstance(ctx, pl.mode)
}

// put returns an instance taken with acquire; a failed one is closed.
func (pl *pool) put(inst *instance, healthy bool) {
	pl.release(inst, healthy)
	<-pl.tokens
}

// release keeps a healthy instance warm, or closes it.
func (pl *pool) release(inst *instance, healthy bool) {
	if !healthy {
		inst.close()
		return
	}
	now := time.Now()
	inst.lastUsed = now
	var evict []*instance
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		inst.close()
		return
	}
	pl.idle = append(pl.idle, inst)
	// The oldest idle instances are at the bottom of the stack.
	for len(pl.idle) > pl.min && now.Sub(pl.idle[0].lastUsed) > pl.idleTimeout {
		evict = append(evict, pl.idle[0])
		pl.idle[0] = nil
		pl.idle = pl.idle[1:]
	}
	pl.mu.Unlock()
	for _, e := range evict {
		e.close()
	}
}

// idleCount reports the warm instances (tests).
func (pl *pool) idleCount() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.idle)
}

// close closes the idle instances; busy ones are closed when returned.
func (pl *pool) close() {
	pl.mu.Lock()
	idle := pl.idle
	pl.idle, pl.closed = nil, true
	pl.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}
