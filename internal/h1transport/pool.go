package h1transport

import (
	"sync"
	"time"
)

// pool holds idle keep-alive connections per route: the most recently
// used is taken first (its buffers and the server's state are warm), the
// oldest are closed when IdleConnTimeout passes.
type pool struct {
	mu      sync.Mutex
	idle    map[string][]*conn
	reaping bool // a reap is scheduled
}

// get returns an idle connection for key that is still open, or nil.
func (p *pool) get(key string, maxAge time.Duration) *conn {
	now := time.Now()
	for {
		p.mu.Lock()
		list := p.idle[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[key] = list[:len(list)-1]
		p.mu.Unlock()
		if (maxAge > 0 && now.Sub(c.idleSince) > maxAge) || !c.stillOpen() {
			c.close()
			continue
		}
		return c
	}
}

// put pools c, or closes it when its route's pool is full. It reports
// whether c was pooled.
func (p *pool) put(t *Transport, c *conn) bool {
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.idle == nil {
		p.idle = make(map[string][]*conn)
	}
	list := p.idle[c.key]
	if len(list) >= t.maxIdle() {
		p.mu.Unlock()
		c.close()
		return false
	}
	p.idle[c.key] = append(list, c)
	schedule := t.IdleConnTimeout > 0 && !p.reaping
	p.reaping = p.reaping || schedule
	p.mu.Unlock()
	if schedule {
		time.AfterFunc(t.IdleConnTimeout, func() { p.reap(t) })
	}
	return true
}

// reap closes the connections idle longer than IdleConnTimeout and runs
// again while any stay pooled.
func (p *pool) reap(t *Transport) {
	cutoff := time.Now().Add(-t.IdleConnTimeout)
	var stale []*conn
	p.mu.Lock()
	for key, list := range p.idle {
		n := 0
		for n < len(list) && !list[n].idleSince.After(cutoff) {
			n++
		}
		stale = append(stale, list[:n]...)
		if n == len(list) {
			delete(p.idle, key)
			continue
		}
		clear(list[:n])
		p.idle[key] = list[n:]
	}
	p.reaping = len(p.idle) > 0
	again := p.reaping
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	if again {
		time.AfterFunc(t.IdleConnTimeout/2+time.Millisecond, func() { p.reap(t) })
	}
}

// closeIdle closes every pooled connection.
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.close()
		}
	}
}
