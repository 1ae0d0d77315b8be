package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// takeDown takes a failed process out of service, kills it and schedules
// its restart; only the first call to see it fail logs (msg). It returns
// when the restart comes, in words.
func (p *Plugin) takeDown(c *conn, why, msg string, cause error) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.down == "" {
		c.down = why
		// go-plugin gives the process 2 s to exit before it kills it: the
		// failed call does not wait for that.
		go c.client.Kill()
	}
	if p.cur != c {
		return p.restartIn() // already handled, or closed
	}
	p.cur = nil
	p.lastErr = errors.New(why)
	if time.Since(c.started) > time.Minute {
		p.backoff = time.Duration(p.cfg.RestartBackoff) // it had been healthy
	}
	p.nextStart = time.Now().Add(p.backoff)
	p.log.Error(msg, "err", cause, "restart_in", p.backoff)
	if !p.restarting {
		p.restarting = true
		go p.restartLoop()
	}
	return p.restartIn()
}

// restartLoop restarts the plugin with exponential backoff until it is up
// or the plugin is closed.
func (p *Plugin) restartLoop() {
	for {
		p.mu.Lock()
		wait := time.Until(p.nextStart)
		p.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-p.stop:
			return
		}
		c, hooks, err := p.start(context.Background())
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			if c != nil {
				c.client.Kill()
			}
			return
		}
		if err == nil && hooks != p.hooks {
			c.client.Kill()
			err = fmt.Errorf("the restarted plugin serves hooks %v, not %v as at load", abi.HookList(hooks), abi.HookList(p.hooks))
		}
		if err == nil {
			p.cur, p.restarting = c, false
			p.restarts++
			p.mu.Unlock()
			p.log.Info("process plugin restarted")
			return
		}
		p.lastErr = err
		p.backoff = min(p.backoff*2, time.Duration(p.cfg.MaxRestartBackoff))
		p.nextStart = time.Now().Add(p.backoff)
		p.mu.Unlock()
		p.log.Error("restarting the process plugin failed", "err", err, "retry_in", p.backoff)
	}
}

// restartIn says when the plugin restarts; once that time has passed, a
// start is under way. Call with p.mu held.
func (p *Plugin) restartIn() string {
	if d := time.Until(p.nextStart).Round(time.Millisecond); d > 0 {
		return "restarting in " + d.String()
	}
	return "restarting now"
}
