package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/tracking"
)

// The interfaces a pipeline part may implement to feed gauges at scrape
// time. Each is small so that a stage implements it without importing this
// package.
type (
	// BreakerStater reports the circuit breaker state of an upstream:
	// closed, half-open or open (the breaker stage).
	BreakerStater interface {
		State(upstream string) string
	}
	// OutboxStater reports the durable outbox's statistics (the track
	// stage, or the usage database the host holds).
	OutboxStater interface {
		Stats() tracking.Stats
	}
)

var breakerStates = []string{"closed", "half-open", "open"}

var (
	breakerDesc = prometheus.NewDesc("tollgate_circuit_breaker_state",
		"1 for the state each upstream's circuit breaker is in (closed, half-open, open), 0 for the others.",
		[]string{"stage", "upstream", "state"}, nil)
	queuedDesc = prometheus.NewDesc("tollgate_outbox_queued_events",
		"Usage events stored and waiting for delivery to a sink.", []string{"sink"}, nil)
	deadDesc = prometheus.NewDesc("tollgate_outbox_dead_letters",
		"Usage events a sink refused or never took after every attempt, kept for replay.", []string{"sink"}, nil)
	backlogDesc = prometheus.NewDesc("tollgate_outbox_backlog_bytes",
		"Bytes of usage events waiting for a sink.", []string{"sink"}, nil)
	deliveredDesc = prometheus.NewDesc("tollgate_outbox_delivered_events_total",
		"Usage events delivered to a sink since start.", []string{"sink"}, nil)
	droppedDesc = prometheus.NewDesc("tollgate_outbox_dropped_events_total",
		"Usage events not stored for a sink because its backlog was full.", []string{"sink"}, nil)
	lagDesc = prometheus.NewDesc("tollgate_outbox_delivery_lag_seconds",
		"How long a sink has been failing (0 while it takes events): events queued for it wait at least this long.", []string{"sink"}, nil)
	inMemoryDesc = prometheus.NewDesc("tollgate_outbox_in_memory_events",
		"Usage events handed off but not yet on disk.", nil, nil)
	memDroppedDesc = prometheus.NewDesc("tollgate_outbox_memory_dropped_events_total",
		"Usage events dropped before they reached the disk (over max_memory_events, or after close).", nil, nil)
	ledgerAsideDesc = prometheus.NewDesc("tollgate_ledger_rows_set_aside",
		"Usage ledger rows that could not be read, kept in the usage database's ledger_damaged bucket (docs/operations.md).", nil, nil)
)

// partsCollector reads the live pipeline's parts at scrape time.
type partsCollector struct{ m *Metrics }

func (c *partsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{breakerDesc, queuedDesc, deadDesc, backlogDesc, deliveredDesc, droppedDesc, lagDesc, inMemoryDesc, memDroppedDesc, ledgerAsideDesc} {
		ch <- d
	}
}

func (c *partsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.opts.Parts == nil {
		return
	}
	var upstreams []string
	if c.m.opts.Upstreams != nil {
		upstreams = c.m.opts.Upstreams()
	}
	outboxDone := false
	for _, p := range c.m.opts.Parts() {
		if b, ok := p.Value.(BreakerStater); ok {
			for _, u := range upstreams {
				state := b.State(u)
				for _, s := range breakerStates {
					v := 0.0
					if s == state {
						v = 1
					}
					ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, v, p.Name, u, s)
				}
			}
		}
		if o, ok := p.Value.(OutboxStater); ok && !outboxDone {
			outboxDone = true // one database per data directory: every track stage reports the same file
			collectOutbox(ch, o.Stats())
		}
	}
}

func collectOutbox(ch chan<- prometheus.Metric, s tracking.Stats) {
	ch <- prometheus.MustNewConstMetric(inMemoryDesc, prometheus.GaugeValue, float64(s.InMemory))
	ch <- prometheus.MustNewConstMetric(memDroppedDesc, prometheus.CounterValue, float64(s.MemoryDropped))
	ch <- prometheus.MustNewConstMetric(ledgerAsideDesc, prometheus.GaugeValue, float64(s.LedgerRowsSetAside))
	for _, ss := range s.Sinks {
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(ss.Queued), ss.Name)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(ss.DeadLetters), ss.Name)
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(ss.BacklogBytes), ss.Name)
		ch <- prometheus.MustNewConstMetric(deliveredDesc, prometheus.CounterValue, float64(ss.Delivered), ss.Name)
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(ss.Dropped), ss.Name)
		lag := 0.0
		if ss.Failing && ss.FailingSince != nil {
			lag = now().Sub(*ss.FailingSince).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag, ss.Name)
	}
}
