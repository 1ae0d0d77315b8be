package wasm

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

// Config configures one WebAssembly plugin: the config of a stage of kind
// wasm, or of a tracking sink of type wasm.
type Config struct {
	// Path is the .wasm file.
	Path string `json:"path"`
	// SHA256 pins the module: the hex sha256 of the file. Required; a
	// mismatch refuses to load.
	SHA256 string `json:"sha256"`
	// Config is the plugin's own config, handed to it as JSON by the
	// config host function.
	Config any `json:"config"`
	// PoolSize is the most instances that run at once (default 4); a call
	// waits for a free one.
	PoolSize int `json:"pool_size"`
	// MinInstances are created at load and kept warm (default 1).
	MinInstances int `json:"min_instances"`
	// MemoryLimitPages caps each instance's memory in 64 KiB pages
	// (default 1024: 64 MiB).
	MemoryLimitPages uint32 `json:"memory_limit_pages"`
	// CallTimeout is the deadline of one hook call (default 100ms for a
	// stage, 5s for a sink).
	CallTimeout pipeline.Duration `json:"call_timeout"`
	// IdleTimeout closes warm instances beyond MinInstances unused this
	// long (default 5m).
	IdleTimeout pipeline.Duration `json:"idle_timeout"`
	// DeliverTo is the allow-list of destinations the plugin may deliver
	// to: URLs, matched exactly or, for an entry ending in "/", as a prefix.
	DeliverTo []string `json:"deliver_to"`
	// EmitTo is the allow-list of sink names the plugin may emit events to.
	EmitTo []string `json:"emit_to"`
	// Env names the host environment variables the plugin may read.
	Env []string `json:"env"`
	// ReadDirs mounts host directories read-only: guest path -> host path.
	ReadDirs map[string]string `json:"read_dirs"`
}

// defaults fills unset fields; sink selects the sink call timeout.
func (c *Config) defaults(sink bool) {
	if c.PoolSize == 0 {
		c.PoolSize = 4
	}
	if c.MinInstances == 0 {
		c.MinInstances = 1
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 1024
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = pipeline.Duration(100 * time.Millisecond)
		if sink {
			c.CallTimeout = pipeline.Duration(5 * time.Second)
		}
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = pipeline.Duration(5 * time.Minute)
	}
}

// check reports what is wrong with the config, naming the key.
func (c *Config) check() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("path: required: the .wasm file to load")
	case c.PoolSize < 1:
		return fmt.Errorf("pool_size: must be at least 1, got %d", c.PoolSize)
	case c.MinInstances < 0 || c.MinInstances > c.PoolSize:
		return fmt.Errorf("min_instances: must be between 0 and pool_size (%d), got %d", c.PoolSize, c.MinInstances)
	case c.MemoryLimitPages > 65536:
		return fmt.Errorf("memory_limit_pages: at most 65536 (4 GiB), got %d", c.MemoryLimitPages)
	case c.CallTimeout <= 0:
		return fmt.Errorf("call_timeout: must be positive")
	}
	if err := pluginhost.CheckPinFormat(c.SHA256); err != nil {
		return err
	}
	return abi.CheckGrants(abi.Grants{DeliverTo: c.DeliverTo, EmitTo: c.EmitTo})
}
