package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Level is a log level.
type Level int32

// Log levels.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes a message to the gateway's log, tagged with the plugin's
// stage name and the call's id. Messages over 4 KiB are cut.
func Log(level Level, msg string) { hostLog(level, msg) }

// Logf formats and logs a message.
func Logf(level Level, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }

var (
	configCache []byte
	configRead  bool
)

// Config returns the plugin's own config (the config key of its entry in
// the gateway's config) as JSON; "{}" when it has none.
func Config() []byte {
	if !configRead {
		configCache, configRead = hostConfig(), true
	}
	return configCache
}

// DecodeConfig reads the plugin's config into v with encoding/json.
func DecodeConfig(v any) error {
	if err := json.Unmarshal(Config(), v); err != nil {
		return fmt.Errorf("plugin config: %w", err)
	}
	return nil
}

// Errors the host returns from [Deliver] and [Emit].
var (
	// ErrDenied: the destination or sink is not on the plugin's allow-list
	// (deliver_to, emit_to in its config).
	ErrDenied = errors.New("sdk: not on the plugin's allow-list")
	// ErrInvalid: the host refused the arguments.
	ErrInvalid = errors.New("sdk: invalid argument")
	// ErrFailed: the host could not accept the payload; retry later.
	ErrFailed = errors.New("sdk: delivery failed")
	// ErrTooLarge: the payload is over the 1 MiB limit.
	ErrTooLarge = errors.New("sdk: payload too large")
)

func codeError(code int32) error {
	switch code {
	case 0:
		return nil
	case -1:
		return ErrDenied
	case -2:
		return ErrInvalid
	case -4:
		return ErrTooLarge
	}
	return ErrFailed
}

// Deliver hands payload to the gateway for delivery to dest, a URL on the
// plugin's deliver_to allow-list. The gateway's outbox delivers it with
// retries, across restarts, and dead-letters what never gets through: a
// nil error means it was accepted.
func Deliver(dest string, payload []byte) error { return codeError(hostDeliver(dest, payload)) }

// Emit sends an event to a named sink on the plugin's emit_to allow-list.
func Emit(sink string, event []byte) error { return codeError(hostEmit(sink, event)) }
