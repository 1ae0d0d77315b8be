//go:build !wasip1

package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/plugins/process"
)

// A process plugin runs hooks one at a time, like a WebAssembly instance:
// the SDK's package state (config, pending deliveries) is then per call.
// The gateway sends a process one call at a time and runs several
// processes for calls in parallel (config processes); the lock keeps the
// state per call whatever the host does.
var (
	callMu  sync.Mutex
	cfgJSON = []byte("{}")
	pending []delivery
)

var levelNames = [...]string{"debug", "info", "warn", "error"}

// hostLog writes an hclog JSON line to stderr; go-plugin relays it to the
// gateway's log.
func hostLog(level Level, msg string) {
	name := "info"
	if level >= 0 && int(level) < len(levelNames) {
		name = levelNames[level]
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	line, _ := json.Marshal(map[string]string{"@level": name, "@message": msg, "@timestamp": time.Now().Format(time.RFC3339Nano)})
	os.Stderr.Write(append(line, '\n'))
}

func hostConfig() []byte { return cfgJSON }

// hostDeliver queues the payload: it travels back with the hook's answer,
// and the gateway checks it against the allow-list then.
func hostDeliver(dest string, payload []byte) int32 {
	if len(payload) > 1<<20 {
		return -4
	}
	pending = append(pending, delivery{Dest: dest, Payload: bytes.Clone(payload)})
	return 0
}

func hostEmit(sink string, event []byte) int32 {
	if len(event) > 1<<20 {
		return -4
	}
	pending = append(pending, delivery{Sink: sink, Payload: bytes.Clone(event)})
	return 0
}

func takePending() []delivery {
	p := pending
	pending = nil
	return p
}

// handler serves the hooks to the process host.
type handler struct{}

func (handler) Init(config []byte) (int, error) {
	callMu.Lock()
	defer callMu.Unlock()
	cfgJSON, configRead = bytes.Clone(config), false
	return int(hooks()), nil
}

func (handler) Call(doc []byte) ([]byte, error) {
	name, err := hookName(doc)
	if err != nil {
		return nil, fmt.Errorf("sdk: reading the hook document: %w", err)
	}
	hook, err := hookByName(name)
	if err != nil {
		return nil, err
	}
	callMu.Lock()
	defer callMu.Unlock()
	// A fresh answer buffer: gRPC sends it after Call returns.
	return dispatch(hook, doc, nil), nil
}

// Serve runs the plugin as a process plugin until the gateway stops it.
// Call it from main after registering hooks.
//
// The process runs on one Go processor (GOMAXPROCS 1) unless a GOMAXPROCS
// environment variable (granted with env) says otherwise: hooks run one at
// a time, and with more processors each call was handed between threads
// (gRPC's reader, the hook, gRPC's writer) at a thread wake-up each. The
// gateway runs several processes for calls in parallel (processes).
func Serve() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	process.Serve(handler{})
}
