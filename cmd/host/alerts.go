package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/tracking"
)

// Alert is what the webhook receives, as JSON.
type Alert struct {
	// Kind is breaker_opened, outbox_backlog or dead_letters.
	Kind string `json:"kind"`
	// Subject is the upstream or sink the alert is about.
	Subject string    `json:"subject"`
	Message string    `json:"message"`
	Gateway string    `json:"gateway"`
	Time    time.Time `json:"time"`
	// Suppressed counts alerts of this kind and subject not sent since the
	// last one, because of the rate limit.
	Suppressed int `json:"suppressed,omitempty"`
}

// notifier checks the operator conditions and posts alerts to a webhook,
// at most one per kind and subject every minInterval, and at most burst
// alerts in all per minInterval, so a flapping upstream or many sinks
// cannot flood the receiver.
type notifier struct {
	url         string
	client      *http.Client
	log         *slog.Logger
	minInterval time.Duration
	backlog     int64
	burst       int
	now         func() time.Time
	gateway     string

	mu         sync.Mutex
	last       map[string]time.Time // kind/subject -> last sent
	suppressed map[string]int
	window     time.Time // start of the global rate window
	sentInWin  int
	breakers   map[string]string // stage/upstream -> last state seen
	dead       map[string]int64  // sink -> dead letters seen
}

func newNotifier(url string, minInterval time.Duration, backlog int64, log *slog.Logger) *notifier {
	host, _ := os.Hostname()
	return &notifier{url: url, client: &http.Client{Timeout: 10 * time.Second}, log: log, minInterval: minInterval,
		backlog: backlog, burst: 10, now: time.Now, gateway: host, last: map[string]time.Time{}, suppressed: map[string]int{},
		breakers: map[string]string{}, dead: map[string]int64{}}
}

// check looks at the breakers and the outbox once and sends what is due.
func (n *notifier) check(ctx context.Context, parts []core.Part, upstreams []string, stats *tracking.Stats) {
	var due []Alert
	n.mu.Lock()
	for _, p := range parts {
		b, ok := p.Value.(metrics.BreakerStater)
		if !ok {
			continue
		}
		for _, u := range upstreams {
			key := p.Name + "/" + u
			state := b.State(u)
			if state == "open" && n.breakers[key] != "open" {
				due = append(due, Alert{Kind: "breaker_opened", Subject: u,
					Message: fmt.Sprintf("the circuit breaker of upstream %s (stage %s) opened: calls to it are refused until it recovers", u, p.Name)})
			}
			n.breakers[key] = state
		}
	}
	if stats != nil {
		for _, s := range stats.Sinks {
			if n.backlog > 0 && s.Queued >= n.backlog {
				due = append(due, Alert{Kind: "outbox_backlog", Subject: s.Name,
					Message: fmt.Sprintf("%d usage events wait for sink %s (alert at %d); last error: %s", s.Queued, s.Name, n.backlog, s.LastError)})
			}
			if s.DeadLetters > n.dead[s.Name] {
				due = append(due, Alert{Kind: "dead_letters", Subject: s.Name,
					Message: fmt.Sprintf("sink %s has %d dead letters (%d new): see tollgate usage dead-letters", s.Name, s.DeadLetters, s.DeadLetters-n.dead[s.Name])})
			}
			n.dead[s.Name] = s.DeadLetters
		}
	}
	var send []Alert
	now := n.now()
	if now.Sub(n.window) >= n.minInterval {
		n.window, n.sentInWin = now, 0
	}
	for _, a := range due {
		key := a.Kind + "/" + a.Subject
		if last, ok := n.last[key]; (ok && now.Sub(last) < n.minInterval) || n.sentInWin >= n.burst {
			n.suppressed[key]++
			continue
		}
		a.Suppressed, n.suppressed[key] = n.suppressed[key], 0
		a.Time, a.Gateway = now.UTC(), n.gateway
		n.last[key] = now
		n.sentInWin++
		send = append(send, a)
	}
	n.mu.Unlock()
	for _, a := range send {
		n.post(ctx, a)
	}
}

func (n *notifier) post(ctx context.Context, a Alert) {
	body, _ := json.Marshal(a)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		n.log.Warn("alert not sent", "kind", a.Kind, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		n.log.Warn("alert not sent: the webhook did not answer", "kind", a.Kind, "subject", a.Subject, "err", redactURL(err))
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		n.log.Warn("alert not sent: the webhook refused it", "kind", a.Kind, "subject", a.Subject, "status", resp.StatusCode)
		return
	}
	n.log.Info("alert sent", "kind", a.Kind, "subject", a.Subject)
}

// redactURL keeps the webhook's URL, a secret, out of an error message.
func redactURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "request failed"
}

// startAlerts runs the notifier when alerts.webhook_url_env names a set
// variable.
func (o *ops) startAlerts(ctx context.Context) {
	cfg := o.cfg.Load()
	if cfg.Alerts.WebhookURLEnv == "" {
		return
	}
	hook, _ := cfg.Lookup(cfg.Alerts.WebhookURLEnv)
	if hook == "" {
		o.log.Warn("alerts are off: the webhook variable is unset", "variable", cfg.Alerts.WebhookURLEnv)
		return
	}
	n := newNotifier(hook, cfg.Alerts.MinInterval, cfg.Alerts.OutboxBacklog, o.log)
	every := cfg.Alerts.CheckInterval
	if every <= 0 {
		every = 15 * time.Second
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				var st *tracking.Stats
				if o.usage != nil {
					s := o.usage.Stats()
					st = &s
				}
				n.check(ctx, o.parts(), providerNames(o.cfg.Load()), st)
			}
		}
	}()
}
