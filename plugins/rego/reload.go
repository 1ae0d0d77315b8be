package rego

import (
	"context"
	"time"
)

// watch polls the policy files every interval and reloads on a change.
//
// Polling, not fsnotify: a stat of a few files a second costs nothing, and
// it sees every way a policy changes — an editor's save-by-rename, a
// Kubernetes ConfigMap's symlink swap, a network file system, a file added
// to a watched directory — where inotify watches need re-adding after each
// rename and miss some of these. The price is up to one interval before a
// change takes effect.
func (s *Stage) watch(interval time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Reload(false)
		}
	}
}

// currentStamp fingerprints the policy files the paths hold now, new ones
// included.
func (s *Stage) currentStamp() string {
	files, err := policyFiles(s.cfg.Paths)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return stamp(files)
}

// Reload compiles the policy files again if they changed since the policy
// in force was loaded (always, with force) and swaps the new policy in. A
// policy that fails to compile is not used: the one in force stays, and the
// error is logged and kept for [Statuses] until a later load succeeds.
// Reload reports whether a new policy is in force.
func (s *Stage) Reload(force bool) bool {
	cur := s.cur.Load()
	st := s.currentStamp()
	s.mu.Lock()
	unchanged := st == cur.stamp || st == s.failedStamp
	s.mu.Unlock()
	if unchanged && !force {
		return false
	}
	p, err := build(context.Background(), &s.cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failedStamp, s.lastErr, s.lastErrAt = st, err.Error(), time.Now()
		s.log.Error("policy reload failed; the policy in force stays", "revision", cur.revision, "err", err)
		return false
	}
	p.stamp = st
	s.cur.Store(p)
	s.reloads++
	s.failedStamp, s.lastErr = "", ""
	s.log.Info("policy reloaded", "revision", p.revision, "previous", cur.revision, "files", len(p.files))
	s.logEngines(p)
	return true
}
