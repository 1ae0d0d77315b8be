package rego

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Status describes one live rego stage: what it loaded, when, and the last
// reload error if the files on disk do not compile.
type Status struct {
	Stage      string    `json:"stage"`
	Phase      string    `json:"phase"`
	Paths      []string  `json:"paths"`
	Files      int       `json:"files"`
	Revision   string    `json:"revision"`
	LoadedAt   time.Time `json:"loaded_at"`
	Reloads    int       `json:"reloads"`
	StreamMode string    `json:"stream_mode,omitempty"`
	// Evaluated, Denied and Failed count decisions since the stage started;
	// Cached counts those of them taken from the decision cache.
	Evaluated int64 `json:"evaluated"`
	Denied    int64 `json:"denied"`
	Failed    int64 `json:"failed"`
	Cached    int64 `json:"cached,omitempty"`
	// DecisionLogDropped counts decisions not logged as the buffer was full.
	DecisionLogDropped int64 `json:"decision_log_dropped,omitempty"`
	// LastError is the last reload's error while the files on disk do not
	// compile; the policy in force is then the one of Revision.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Status reports the stage's state.
func (s *Stage) Status() Status {
	p := s.cur.Load()
	st := Status{Stage: s.name, Phase: s.cfg.Phase, Paths: s.cfg.Paths, Files: len(p.files), Revision: p.revision,
		LoadedAt: p.loadedAt.UTC(), Evaluated: s.evaluated.Load(), Denied: s.denied.Load(), Failed: s.failed.Load(),
		Cached: s.cached.Load()}
	if s.cfg.Phase != PhaseRequest {
		st.StreamMode = s.cfg.StreamMode
	}
	if s.dlog != nil {
		st.DecisionLogDropped = s.dlog.dropped.Load()
	}
	s.mu.Lock()
	st.Reloads = s.reloads
	if s.lastErr != "" {
		st.LastError = s.lastErr
		at := s.lastErrAt.UTC()
		st.LastErrorAt = &at
	}
	s.mu.Unlock()
	return st
}

var (
	liveMu sync.Mutex
	live   []*Stage
)

func register(s *Stage) {
	liveMu.Lock()
	defer liveMu.Unlock()
	live = append(live, s)
}

func unregister(s *Stage) {
	liveMu.Lock()
	defer liveMu.Unlock()
	live = slices.DeleteFunc(live, func(x *Stage) bool { return x == s })
}

// Statuses reports every live rego stage of the process, by name: the
// host's GET /admin/policies.
func Statuses() []Status {
	liveMu.Lock()
	stages := slices.Clone(live)
	liveMu.Unlock()
	out := make([]Status, 0, len(stages))
	for _, s := range stages {
		out = append(out, s.Status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Stage, b.Stage) })
	return out
}
