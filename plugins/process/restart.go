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
func (p *Plugin) takeDown(s *slot, c *conn, why, msg string, cause error) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.down == "" {
		c.down = why
		// go-plugin gives the process 2 s to exit before it kills it: the
		// failed call does not wait for that.
		go c.client.Kill()
	}
	if s.cur != c {
		return s.restartIn() // already handled, or closed
	}
	s.cur = nil
	if p.up--; p.up == 0 {
		close(p.noneUp) // calls waiting for a free process fail now
	}
	s.lastErr = errors.New(why)
	if time.Since(c.started) > time.Minute {
		s.backoff = time.Duration(p.cfg.RestartBackoff) // it had been healthy
	}
	s.nextStart = time.Now().Add(s.backoff)
	p.log.Error(msg, "err", cause, "process", s.n, "restart_in", s.backoff)
	if !s.restarting {
		s.restarting = true
		go p.restartLoop(s)
	}
	return s.restartIn()
}

// restartLoop restarts a process with exponential backoff until it is up
// or the plugin is closed.
func (p *Plugin) restartLoop(s *slot) {
	for {
		p.mu.Lock()
		wait := time.Until(s.nextStart)
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
			s.cur, s.restarting = c, false
			s.restarts++
			if p.up++; p.up == 1 {
				p.noneUp = make(chan struct{})
			}
			p.mu.Unlock()
			p.free <- s
			p.log.Info("process plugin restarted", "process", s.n)
			return
		}
		s.lastErr = err
		s.backoff = min(s.backoff*2, time.Duration(p.cfg.MaxRestartBackoff))
		s.nextStart = time.Now().Add(s.backoff)
		p.mu.Unlock()
		p.log.Error("restarting the process plugin failed", "err", err, "process", s.n, "retry_in", s.backoff)
	}
}

// restartIn says when the process restarts; once that time has passed, a
// start is under way. Call with Plugin.mu held.
func (s *slot) restartIn() string {
	if d := time.Until(s.nextStart).Round(time.Millisecond); d > 0 {
		return "restarting in " + d.String()
	}
	return "restarting now"
}
