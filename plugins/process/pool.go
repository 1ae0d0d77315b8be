package process

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// slot is one of the plugin's processes (config processes), restarted on
// its own when it fails. Its fields are guarded by Plugin.mu.
type slot struct {
	n          int   // 1-based, for the log
	cur        *conn // nil while the process is down
	lastErr    error
	backoff    time.Duration
	nextStart  time.Time
	restarting bool
	restarts   int
}

// acquire takes a process that is up and not in a call. While every
// process that is up is busy it waits for one until ctx ends; when none
// is up it fails at once, as the stage's on_error then decides.
func (p *Plugin) acquire(ctx context.Context) (*slot, *conn, error) {
	for {
		var s *slot
		select {
		case s = <-p.free:
		default:
			p.mu.Lock()
			err, noneUp := p.downError(), p.noneUp
			p.mu.Unlock()
			if err != nil {
				return nil, nil, err
			}
			select {
			case s = <-p.free:
			case <-noneUp:
				continue // the last one went down: say so
			case <-ctx.Done():
				return nil, nil, &core.Error{Kind: core.KindTimeout, Code: "plugin_busy", Stage: p.name, Err: ctx.Err(),
					Message: fmt.Sprintf("every process of process plugin %s was busy (processes %d) until the call's deadline", p.name, len(p.slots))}
			}
		}
		p.mu.Lock()
		c, closed := s.cur, p.closed
		p.mu.Unlock()
		switch {
		case closed || c == nil:
			continue // the next turn says so
		case c.client.Exited():
			// It died between calls (killed, out of memory): restart it
			// and serve the call with another.
			p.takeDown(s, c, "its process exited between calls", "process plugin exited between calls; restarting it", nil)
			continue
		}
		return s, c, nil
	}
}

// release hands a process back after a call, unless the call took it
// down (the restart hands the new one in).
func (p *Plugin) release(s *slot, c *conn) {
	p.mu.Lock()
	back := s.cur == c && !p.closed
	p.mu.Unlock()
	if back {
		p.free <- s // never blocks: room for every slot, and s is in once
	}
}

// downError says why no process can take a call, or nil if one is up.
// Call with p.mu held.
func (p *Plugin) downError() error {
	if p.closed {
		return &core.Error{Kind: core.KindInternal, Code: "plugin_closed", Stage: p.name, Message: "plugin " + p.name + " is closed"}
	}
	if p.up > 0 {
		return nil
	}
	next := p.slots[0] // the one that restarts first
	for _, s := range p.slots[1:] {
		if s.nextStart.Before(next.nextStart) {
			next = s
		}
	}
	msg := fmt.Sprintf("process plugin %s is down (%v); %s", p.name, next.lastErr, next.restartIn())
	if len(p.slots) > 1 {
		msg = fmt.Sprintf("process plugin %s is down: all its %d processes are (the next to restart: %v); %s", p.name, len(p.slots), next.lastErr, next.restartIn())
	}
	return &core.Error{Kind: core.KindInternal, Code: "plugin_down", Stage: p.name, Err: next.lastErr, Message: msg}
}
