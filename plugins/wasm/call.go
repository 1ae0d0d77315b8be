package wasm

import (
	"context"
	"log/slog"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Call runs one hook on a warm instance: it encodes the document, calls the
// guest and parses its answer. An instance that failed is closed and
// replaced. Safe for concurrent use.
func (p *Plugin) Call(ctx context.Context, hook int, in *abi.Input) (abi.Action, error) {
	inst, err := p.pool.acquire(ctx)
	if err != nil {
		return abi.Action{}, err
	}
	inst.doc, err = in.Encode(inst.doc[:0], hook)
	if err != nil {
		p.pool.put(inst, true)
		return abi.Action{}, err
	}
	if in.Req != nil {
		inst.reqID = in.Req.ID
	}
	out, err := inst.call(ctx, hook)
	if cap(inst.doc) > 1<<20 {
		inst.doc = nil // do not keep a huge buffer warm
	}
	p.pool.put(inst, err == nil)
	if err != nil {
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.Debug("plugin call failed", "err", err)
		}
		return abi.Action{}, err
	}
	if out == nil {
		return abi.Action{Action: abi.ActContinue}, nil
	}
	a, err := abi.ParseAction(out)
	if err != nil {
		return a, p.abiError("%v", err)
	}
	return a, nil
}
