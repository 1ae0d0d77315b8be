//go:build wasip1

package sdk

import "unsafe"

// The exports of ABI v1. The host writes each input document into the
// buffer tollgate_alloc returned and calls a hook with its address and
// length; the hook answers with (address << 32 | length) of its output
// document, or 0 for a plain continue. Both buffers belong to the guest and
// stay valid until the next call into it.

//go:wasmexport tollgate_abi_v1
func abiV1() {}

//go:wasmexport tollgate_hooks
func exportHooks() int32 { return hooks() }

var inBuf, outBuf []byte

//go:wasmexport tollgate_alloc
func alloc(size uint32) uint32 {
	inBuf = make([]byte, max(size, 1))
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf))))
}

//go:wasmexport tollgate_on_request
func exportOnRequest(ptr, size uint32) uint64 { return call(hookRequest, ptr, size) }

//go:wasmexport tollgate_on_response
func exportOnResponse(ptr, size uint32) uint64 { return call(hookResponse, ptr, size) }

//go:wasmexport tollgate_on_stream_event
func exportOnStreamEvent(ptr, size uint32) uint64 { return call(hookStreamEvent, ptr, size) }

//go:wasmexport tollgate_on_usage
func exportOnUsage(ptr, size uint32) uint64 { return call(hookUsage, ptr, size) }

func call(hook int, ptr, size uint32) uint64 {
	var in []byte
	if base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf)))); ptr == base && int(size) <= len(inBuf) {
		in = inBuf[:size]
	} else {
		in = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), size)
	}
	// The answer buffer is reused: the host copies the answer out before it
	// calls the guest again.
	outBuf = dispatch(hook, in, outBuf[:0])
	if len(outBuf) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(outBuf))))<<32 | uint64(len(outBuf))
}

//go:wasmimport tollgate log
func importLog(level int32, ptr unsafe.Pointer, size uint32)

//go:wasmimport tollgate config
func importConfig(buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport tollgate deliver
func importDeliver(destPtr unsafe.Pointer, destLen uint32, ptr unsafe.Pointer, size uint32) int32

//go:wasmimport tollgate emit
func importEmit(sinkPtr unsafe.Pointer, sinkLen uint32, ptr unsafe.Pointer, size uint32) int32

func hostLog(level Level, msg string) {
	importLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

func hostConfig() []byte {
	buf := make([]byte, 256)
	for {
		n := importConfig(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		if n < 0 {
			return []byte("{}")
		}
		if int(n) <= len(buf) {
			return buf[:n]
		}
		buf = make([]byte, n)
	}
}

func hostDeliver(dest string, payload []byte) int32 {
	return importDeliver(unsafe.Pointer(unsafe.StringData(dest)), uint32(len(dest)),
		unsafe.Pointer(unsafe.SliceData(payload)), uint32(len(payload)))
}

func hostEmit(sink string, event []byte) int32 {
	return importEmit(unsafe.Pointer(unsafe.StringData(sink)), uint32(len(sink)),
		unsafe.Pointer(unsafe.SliceData(event)), uint32(len(event)))
}

// takePending is for process plugins; a WebAssembly plugin delivers at once.
func takePending() []delivery { return nil }

// Serve returns at once: a WebAssembly plugin is driven by its exports.
func Serve() {}
