package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// usageWarnEvery spaces the warnings about one upstream's usage: an
// upstream that sends no usage, or garbage, does so on every call, and a
// line per call would flood the log.
const usageWarnEvery = time.Minute

// usageWarnings rate-limits the warnings about usage an upstream reported
// that could not be used, per upstream. Safe for concurrent use.
type usageWarnings struct {
	every time.Duration // usageWarnEvery unless a test sets it
	m     sync.Map      // upstream name → *usageWarning
}

type usageWarning struct {
	last       atomic.Int64 // unix nanoseconds of the last warning
	suppressed atomic.Int64 // problems since then, not logged
}

// warnUsage logs the outcome's usage problem: at once for an upstream's
// first, then at most once per interval, with how many were not logged.
func (e *Engine) warnUsage(o *Outcome) {
	name, format := "", ""
	if r := o.Request; r.Upstream != nil {
		name = r.Upstream.Name
	}
	if o.Request.Format != nil {
		format = o.Request.Format.Name()
	}
	every := e.usageWarnings.every
	if every == 0 {
		every = usageWarnEvery
	}
	v, ok := e.usageWarnings.m.Load(name)
	if !ok {
		v, _ = e.usageWarnings.m.LoadOrStore(name, &usageWarning{})
	}
	w := v.(*usageWarning)
	now, last := time.Now().UnixNano(), w.last.Load()
	if last != 0 && now-last < int64(every) || !w.last.CompareAndSwap(last, now) {
		w.suppressed.Add(1)
		return
	}
	e.log.Warn("an upstream's usage could not be used: the call records the gateway's estimate (usage_estimated)",
		"upstream", name, "provider", format, "model", o.Request.Model, "id", o.Request.ID,
		"problem", o.Usage.Problem, "not_logged_since_last", w.suppressed.Swap(0), "logged_at_most_every", every)
}
