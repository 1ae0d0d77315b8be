package pipeline

import "github.com/tollgate-dev/tollgate/core"

// Instrument observes the stages of every pipeline built with it: the
// metrics package times each stage, the tracer gives each a span. Build
// calls WrapStage once per stage, after applying the entry's on_error and
// timeout, and uses what it returns. A built-in with neither runs bare
// otherwise, so the wrapper is the only cost it pays: keep it small.
//
// An Instrument is shared by successive pipelines (a reload builds a new one
// with the same Instrument) and must be safe for concurrent use.
type Instrument interface {
	WrapStage(spec Spec, stage core.Stage) core.Stage
}

// FailureObserver is an optional interface of an [Instrument]: it is told of
// each stage failure that the entry's on_error handled — the stage's own
// error, its timeout, or a panic — with whether the call went on without it.
// Built-ins that run bare (no on_error, no timeout) do not report here; a
// panic in one fails the call and is counted by the engine's outcome.
type FailureObserver interface {
	StageFailed(stage, reason string, failOpen bool)
}

// Reasons given to [FailureObserver.StageFailed].
const (
	FailureError   = "error"
	FailureTimeout = "timeout"
	FailurePanic   = "panic"
)

// Instruments combines instruments: each wraps the stage in turn, the first
// outermost, and each that observes failures is told of them.
func Instruments(list ...Instrument) Instrument {
	var out multi
	for _, i := range list {
		if i != nil {
			out = append(out, i)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type multi []Instrument

func (m multi) WrapStage(spec Spec, stage core.Stage) core.Stage {
	for i := len(m) - 1; i >= 0; i-- {
		stage = m[i].WrapStage(spec, stage)
	}
	return stage
}

func (m multi) StageFailed(stage, reason string, failOpen bool) {
	for _, i := range m {
		if fo, ok := i.(FailureObserver); ok {
			fo.StageFailed(stage, reason, failOpen)
		}
	}
}
