package wasm

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// instantiateHost defines the tollgate host module for this plugin's
// runtime. Each function checks every guest pointer; a bad one answers
// abi.ErrInvalid rather than trapping.
func (p *Plugin) instantiateHost(ctx context.Context) error {
	b := p.rt.NewHostModuleBuilder(hostModule)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(p.hostLog), hostFuncs["log"].params, hostFuncs["log"].results).
		WithParameterNames("level", "ptr", "len").Export("log")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(p.hostConfig), hostFuncs["config"].params, hostFuncs["config"].results).
		WithParameterNames("buf", "cap").Export("config")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(p.hostDeliver), hostFuncs["deliver"].params, hostFuncs["deliver"].results).
		WithParameterNames("dest_ptr", "dest_len", "ptr", "len").Export("deliver")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(p.hostEmit), hostFuncs["emit"].params, hostFuncs["emit"].results).
		WithParameterNames("sink_ptr", "sink_len", "ptr", "len").Export("emit")
	_, err := b.Instantiate(ctx)
	return err
}

// reqID is the id of the call the instance of mod is serving.
func (p *Plugin) reqID(mod api.Module) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if inst := p.byMod[mod]; inst != nil {
		return inst.reqID
	}
	return ""
}

var logLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func (p *Plugin) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	lv := slog.LevelInfo
	if level >= 0 && int(level) < len(logLevels) {
		lv = logLevels[level]
	}
	if !p.log.Enabled(ctx, lv) {
		return
	}
	msg, ok := mod.Memory().Read(ptr, min(n, abi.MaxLogLine))
	if !ok {
		return
	}
	p.log.Log(ctx, lv, string(msg), "id", p.reqID(mod))
}

func (p *Plugin) hostConfig(_ context.Context, mod api.Module, stack []uint64) {
	buf, capacity := uint32(stack[0]), uint32(stack[1])
	n := uint32(len(p.config))
	if n <= capacity && !mod.Memory().Write(buf, p.config) {
		stack[0] = api.EncodeI32(abi.ErrInvalid)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

func (p *Plugin) hostDeliver(ctx context.Context, mod api.Module, stack []uint64) {
	if uint32(stack[3]) > abi.MaxPayload {
		p.log.Warn("plugin payload over the limit", "id", p.reqID(mod), "bytes", uint32(stack[3]), "limit", abi.MaxPayload)
		stack[0] = api.EncodeI32(abi.ErrTooLarge)
		return
	}
	dest, payload, ok := readPair(mod, stack)
	if !ok {
		stack[0] = api.EncodeI32(abi.ErrInvalid)
		return
	}
	code, err := abi.Deliver(ctx, p.deliver, p.grants, dest, payload)
	if err != nil {
		p.log.Warn("plugin delivery refused or failed", "id", p.reqID(mod), "dest", dest, "code", abi.ErrorName(code), "err", err)
	}
	stack[0] = api.EncodeI32(code)
}

func (p *Plugin) hostEmit(ctx context.Context, mod api.Module, stack []uint64) {
	if uint32(stack[3]) > abi.MaxPayload {
		p.log.Warn("plugin payload over the limit", "id", p.reqID(mod), "bytes", uint32(stack[3]), "limit", abi.MaxPayload)
		stack[0] = api.EncodeI32(abi.ErrTooLarge)
		return
	}
	sink, payload, ok := readPair(mod, stack)
	if !ok {
		stack[0] = api.EncodeI32(abi.ErrInvalid)
		return
	}
	code, err := abi.Emit(ctx, p.deliver, p.grants, sink, payload)
	if err != nil {
		p.log.Warn("plugin event refused or failed", "id", p.reqID(mod), "sink", sink, "code", abi.ErrorName(code), "err", err)
	}
	stack[0] = api.EncodeI32(code)
}

// readPair reads a (string, bytes) argument pair, copying both out of
// guest memory.
func readPair(mod api.Module, stack []uint64) (string, []byte, bool) {
	mem := mod.Memory()
	s, ok1 := mem.Read(uint32(stack[0]), uint32(stack[1]))
	b, ok2 := mem.Read(uint32(stack[2]), uint32(stack[3]))
	if !ok1 || !ok2 || len(s) > 4096 {
		return "", nil, false
	}
	return string(s), append([]byte(nil), b...), true
}
