package core_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

func TestPersistContextDefaultsToCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if core.PersistContext(ctx) != ctx {
		t.Error("without WithPersistContext, PersistContext is not ctx itself")
	}
	persist := context.Background()
	if core.PersistContext(core.WithPersistContext(ctx, persist)) != persist {
		t.Error("PersistContext does not return the context attached")
	}
}

// A shutdown cut short (ctx cancelled, the persist context alive) still
// waits for the calls in flight to hand their usage off before the
// stages close: a track stage closed first would lose their events. It
// used to close the stages at once.
func TestCloseCutShortWaitsForCallsToHandTheirUsageOff(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	rec := &outcomes{}
	var seenAtClose int
	var stageCtx context.Context
	var calls atomic.Int32
	slow := core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
		if calls.Add(1) == 1 { // the call in flight; the others answer at once
			close(entered)
			<-release
		}
		return okAnswer(ctx, r, next)
	})
	p := core.NewPipeline([]core.Stage{slow}, []core.Completer{rec}, func(ctx context.Context) error {
		rec.mu.Lock()
		seenAtClose = len(rec.all)
		rec.mu.Unlock()
		stageCtx = ctx
		return nil
	})
	eng := core.New(core.WithPipeline(p), core.WithFormats(fakeFormat{}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
	done := make(chan error, 1)
	go func() {
		_, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")})
		done <- err
	}()
	<-entered

	wait, cutShort := context.WithCancel(context.Background())
	cutShort() // a second signal came
	// A hang guard, not a timing.
	persist, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closeDone := make(chan error, 1)
	go func() { closeDone <- eng.Close(core.WithPersistContext(wait, persist)) }()
	// Close has begun once the engine refuses new calls.
	for {
		_, err := eng.Do(context.Background(), &core.Request{Path: "/op", Body: []byte("{}")})
		var e *core.Error
		if errors.As(err, &e) && e.Code == "engine_closed" {
			break
		}
		select {
		case <-closeDone:
			t.Fatal("Close returned while a call was in flight")
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closeDone; err != nil {
		t.Fatal(err)
	}
	if seenAtClose != len(rec.all) {
		t.Errorf("the stages closed having seen %d outcomes of %d: the call in flight handed its usage off after", seenAtClose, len(rec.all))
	}
	if stageCtx.Err() == nil || core.PersistContext(stageCtx).Err() != nil {
		t.Errorf("the stages closed with ctx err %v and persist err %v, want it cut and persist alive",
			stageCtx.Err(), core.PersistContext(stageCtx).Err())
	}
}

// A call whose context is cancelled with a cause of its own — the host
// cutting the calls in flight at shutdown — records that cause, not "the
// client went away"; a plain cancellation still says the client left.
func TestCallCutWithACauseSaysWhy(t *testing.T) {
	for _, c := range []struct {
		cause error
		want  string
	}{
		{errors.New("a second SIGINT or SIGTERM"), "the call was cut: a second SIGINT or SIGTERM"},
		{nil, "the client went away"},
	} {
		rec := &outcomes{}
		entered := make(chan struct{})
		wait := core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		eng := core.New(core.WithPipeline(core.NewPipeline([]core.Stage{wait}, []core.Completer{rec}, nil)),
			core.WithFormats(fakeFormat{}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			<-entered
			cancel(c.cause)
		}()
		_, err := eng.Do(ctx, &core.Request{Path: "/op", Body: []byte("{}")})
		var e *core.Error
		if !errors.As(err, &e) || e.Message != c.want || e.Kind != core.KindClientGone {
			t.Errorf("cancelled with cause %v: err %v, want %q", c.cause, err, c.want)
		}
		if len(rec.all) != 1 || rec.all[0].Err == nil || !strings.Contains(rec.all[0].Err.Error(), c.want) {
			t.Errorf("cancelled with cause %v: outcomes %+v, want one with %q", c.cause, rec.all, c.want)
		}
	}
}
