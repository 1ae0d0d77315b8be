package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/core"
)

// The spend counters are one hash per customer per UTC day and per UTC month,
// {prefix}spend:{customer}:d:2026-11-26 and …:m:2026-11, whose fields are the
// names of core.UsageTotals' JSON fields (cost in picodollars). Each event is
// counted once, whatever its delivery retries: a marker
// {prefix}spend:seen:{event id} is set with the counts in one script.

const (
	spendSeenTTL  = 7 * 24 * time.Hour
	spendDayTTL   = 40 * 24 * time.Hour
	spendMonthTTL = 400 * 24 * time.Hour
)

var spendFields = []string{"requests", "input_tokens", "output_tokens", "total_tokens", "cached_input_tokens",
	"cache_write_tokens", "reasoning_tokens", "cost", "unpriced_requests", "errors"}

// addSpendScript counts one event once.
//
// KEYS: seen marker, day hash, month hash. ARGV: seen ttl s, day ttl s,
// month ttl s, then the ten field values in spendFields order.
var addSpendScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local fields = {'requests', 'input_tokens', 'output_tokens', 'total_tokens', 'cached_input_tokens',
  'cache_write_tokens', 'reasoning_tokens', 'cost', 'unpriced_requests', 'errors'}
for i, f in ipairs(fields) do
  local v = ARGV[3 + i]
  if v ~= '0' then
    redis.call('HINCRBY', KEYS[2], f, v)
    redis.call('HINCRBY', KEYS[3], f, v)
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
`)

func (s *Store) spendKeys(customer string, at time.Time) (day, month string) {
	at = at.UTC()
	return s.Key("spend", customer, "d", at.Format("2006-01-02")), s.Key("spend", customer, "m", at.Format("2006-01"))
}

// AddSpend adds events to their customers' day and month counters, each
// event once: an event delivered again (same id) is not counted again.
func (s *Store) AddSpend(ctx context.Context, events []*core.UsageEvent) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.pipeline(ctx, func(_ redis.Pipeliner, script func(*redis.Script, []string, ...any)) {
		for _, ev := range events {
			t := EventTotals(ev)
			day, month := s.spendKeys(ev.CustomerID, ev.Timestamp)
			script(addSpendScript, []string{s.Key("spend", "seen", ev.ID), day, month},
				int64(spendSeenTTL/time.Second), int64(spendDayTTL/time.Second), int64(spendMonthTTL/time.Second),
				t.Requests, t.InputTokens, t.OutputTokens, t.TotalTokens, t.CachedInputTokens,
				t.CacheWriteTokens, t.ReasoningTokens, int64(t.Cost), t.Unpriced, t.Errors)
		}
	})
	if err != nil {
		return s.fail(err)
	}
	s.ok()
	return nil
}

// EventTotals is what one usage event adds to its customer's spend, counted
// as the embedded ledger counts it.
func EventTotals(ev *core.UsageEvent) core.UsageTotals {
	t := core.UsageTotals{Requests: 1, InputTokens: ev.InputTokens, OutputTokens: ev.OutputTokens,
		TotalTokens: ev.TotalTokens, CachedInputTokens: ev.CachedInputTokens, CacheWriteTokens: ev.CacheWriteTokens,
		ReasoningTokens: ev.ReasoningTokens}
	if ev.Cost != nil {
		t.Cost = *ev.Cost
	} else if ev.TotalTokens > 0 {
		t.Unpriced = 1
	}
	if ev.Status != core.StatusOK {
		t.Errors = 1
	}
	return t
}

// Spend reports a customer's totals for the UTC day and month of at. It
// implements [core.SpendReader].
func (s *Store) Spend(ctx context.Context, customer string, at time.Time) (day, month core.UsageTotals, err error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return day, month, err
	}
	defer cancel()
	dk, mk := s.spendKeys(customer, at)
	pipe := s.c.Pipeline()
	d := pipe.HGetAll(ctx, dk)
	m := pipe.HGetAll(ctx, mk)
	if _, err := pipe.Exec(ctx); err != nil {
		return day, month, s.fail(err)
	}
	s.ok()
	if day, err = totals(d.Val()); err == nil {
		month, err = totals(m.Val())
	}
	return day, month, err
}

func totals(h map[string]string) (core.UsageTotals, error) {
	var t core.UsageTotals
	ptrs := []*int64{&t.Requests, &t.InputTokens, &t.OutputTokens, &t.TotalTokens, &t.CachedInputTokens,
		&t.CacheWriteTokens, &t.ReasoningTokens, (*int64)(&t.Cost), &t.Unpriced, &t.Errors}
	for i, f := range spendFields {
		v, ok := h[f]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return t, fmt.Errorf("redisstore: spend counter %s is not a number: %q", f, v)
		}
		*ptrs[i] = n
	}
	return t, nil
}

var _ core.SpendReader = (*Store)(nil)

// SpendReader returns a [core.SpendReader] over the spend counters in the
// Redis o names. It connects on first use and keeps its connection for the
// life of the process.
func SpendReader(o Options, log *slog.Logger) core.SpendReader {
	return &lazySpend{o: o, log: log}
}

type lazySpend struct {
	o     Options
	log   *slog.Logger
	once  sync.Once
	store *Store
	err   error
}

func (l *lazySpend) Spend(ctx context.Context, customer string, at time.Time) (core.UsageTotals, core.UsageTotals, error) {
	l.once.Do(func() { l.store, l.err = Open(l.o, l.log) })
	if l.err != nil {
		return core.UsageTotals{}, core.UsageTotals{}, l.err
	}
	return l.store.Spend(ctx, customer, at)
}
