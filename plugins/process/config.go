package process

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

// Config configures one process plugin: the config of a stage of kind
// process, or of a tracking sink of type process.
type Config struct {
	// Path is the plugin executable.
	Path string `json:"path"`
	// Args are passed to it.
	Args []string `json:"args"`
	// SHA256 pins the executable (hex sha256, required); go-plugin checks
	// it again at every start.
	SHA256 string `json:"sha256"`
	// Config is the plugin's own config, handed to it as JSON at start.
	Config any `json:"config"`
	// CallTimeout is the deadline of one hook call (default 1s; 5s for a
	// sink).
	CallTimeout pipeline.Duration `json:"call_timeout"`
	// StartTimeout bounds the start and handshake (default 10s).
	StartTimeout pipeline.Duration `json:"start_timeout"`
	// RestartBackoff is the first wait before restarting a crashed plugin
	// (default 200ms); it doubles while the plugin keeps crashing, up to
	// MaxRestartBackoff (default 30s).
	RestartBackoff    pipeline.Duration `json:"restart_backoff"`
	MaxRestartBackoff pipeline.Duration `json:"max_restart_backoff"`
	// Processes is how many processes of the plugin run side by side
	// (default 1, at most maxProcesses). Each serves one call at a time
	// and is restarted on its own; a sink runs one.
	Processes int `json:"processes"`
	// Env names the host environment variables the plugin gets; it gets
	// none other.
	Env []string `json:"env"`
	// DeliverTo and EmitTo are the allow-lists of destinations and sinks
	// the plugin may hand payloads to.
	DeliverTo []string `json:"deliver_to"`
	EmitTo    []string `json:"emit_to"`
}

// maxProcesses bounds processes: each is a whole program's memory.
const maxProcesses = 64

func (c *Config) defaults(sink bool) {
	if c.Processes == 0 {
		c.Processes = 1
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = pipeline.Duration(time.Second)
		if sink {
			c.CallTimeout = pipeline.Duration(5 * time.Second)
		}
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = pipeline.Duration(10 * time.Second)
	}
	if c.RestartBackoff == 0 {
		c.RestartBackoff = pipeline.Duration(200 * time.Millisecond)
	}
	if c.MaxRestartBackoff == 0 {
		c.MaxRestartBackoff = pipeline.Duration(30 * time.Second)
	}
}

func (c *Config) check(sink bool) error {
	switch {
	case c.Path == "":
		return fmt.Errorf("path: required: the plugin executable")
	case c.Processes < 1 || c.Processes > maxProcesses:
		return fmt.Errorf("processes: want 1 to %d, got %d", maxProcesses, c.Processes)
	case sink && c.Processes > 1:
		return fmt.Errorf("processes: a sink runs one process (got %d): tracking hands a sink one batch at a time, in order, so more would sit idle", c.Processes)
	case c.CallTimeout <= 0:
		return fmt.Errorf("call_timeout: must be positive")
	case c.RestartBackoff <= 0 || c.MaxRestartBackoff < c.RestartBackoff:
		return fmt.Errorf("restart_backoff: must be positive and at most max_restart_backoff")
	}
	if err := pluginhost.CheckPinFormat(c.SHA256); err != nil {
		return err
	}
	return abi.CheckGrants(abi.Grants{DeliverTo: c.DeliverTo, EmitTo: c.EmitTo})
}
