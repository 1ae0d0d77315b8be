package shared

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// SpendSinkType is the sink type that adds usage events to the spend
// counters in Redis, which budget policies read on every replica. The root
// package adds one to the ledger's track stage when the config has a redis
// section.
const SpendSinkType = "redis_spend"

func init() { pipeline.RegisterSink(SpendSinkType, newSpendSink) }

// spendSink writes events to the Redis spend counters, each event once
// however often it is delivered.
type spendSink struct{ store *redisstore.Store }

func newSpendSink(s pipeline.SinkSpec, env pipeline.Env) (core.Sink, error) {
	var cfg struct{}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	opts, _ := env.Redis.(*redisstore.Options)
	if opts == nil {
		return nil, fmt.Errorf("%s: type %s needs the top-level redis section: set redis.addr", s.Path, SpendSinkType)
	}
	if env.CheckOnly {
		return spendSink{}, nil
	}
	store, err := redisstore.Open(*opts, env.Log)
	if err != nil {
		return nil, err
	}
	return spendSink{store}, nil
}

func (s spendSink) Write(ctx context.Context, events []*core.UsageEvent) error {
	return s.store.AddSpend(ctx, events)
}

func (s spendSink) Close() error {
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}
