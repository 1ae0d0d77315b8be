package abi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// DirectDeliverer is the path plugins deliver through when no durable
// outbox is configured (pipeline.Env.Deliverer is nil): an HTTP POST made
// while the plugin waits, so that a failure comes back to the plugin and a
// sink's Write fails and is retried by tracking. Named sinks ("sink:NAME")
// are written to the log. It is not crash-safe: that is the outbox's job.
type DirectDeliverer struct {
	Client *http.Client
	Log    *slog.Logger
}

// NewDirectDeliverer returns a DirectDeliverer with a 10 s request timeout.
func NewDirectDeliverer(log *slog.Logger) *DirectDeliverer {
	if log == nil {
		log = slog.Default()
	}
	return &DirectDeliverer{Client: &http.Client{Timeout: 10 * time.Second}, Log: log}
}

// Deliver posts payload to dest, or logs it for a named sink.
func (d *DirectDeliverer) Deliver(ctx context.Context, dest string, payload []byte) error {
	if sink, ok := strings.CutPrefix(dest, "sink:"); ok {
		d.Log.Info("plugin event", "sink", sink, "event", string(payload))
		return nil
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, dest, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.Client.Do(req)
	if err != nil {
		return fmt.Errorf("delivering to %s: %w", dest, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("delivering to %s: answered %s", dest, resp.Status)
	}
	return nil
}

var _ core.Deliverer = (*DirectDeliverer)(nil)
