// Package tracking is the durable half of usage tracking: the outbox that
// persists usage events before they count as accepted and delivers them to
// every sink independently, the dead letters for what a sink refused or
// never took, and the ledger of per-customer totals that reports and budget
// policies read. All of it lives in one embedded bbolt file, usage.db, in the
// data directory; this is the only package that imports bbolt.
//
// The pure pieces live beside it: [github.com/tollgate-dev/tollgate/tracking/pricing]
// (price table and cost) and [github.com/tollgate-dev/tollgate/tracking/sinks]
// (jsonl, http, stdout). The track stage in plugins/builtin wires them up
// from the config.
//
// Flow of one event:
//
//	Complete ─► Outbox.Enqueue (memory, ≤1 µs) ─► writer: price, encode,
//	  one transaction per batch: append to each sink's queue + ledger ─► fsync
//	  ─► per-sink worker: read batch ─► Sink.Write ─► delete (ack)
//	                                    └─ failure: backoff + jitter, retry
//	                                    └─ rejected / too many attempts: dead letters
package tracking
