package core_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		sentinel   error
		wantStatus int
	}{
		{"validation", core.Errorf(core.KindValidation, "bad", "bad"), core.ErrValidation, 400},
		{"too large", core.Errorf(core.KindTooLarge, "big", "big"), core.ErrTooLarge, 413},
		{"config", core.Errorf(core.KindConfig, "cfg", "cfg"), core.ErrConfig, 500},
		{"auth", core.Errorf(core.KindAuth, "key", "key"), core.ErrAuth, 401},
		{"denied", core.Errorf(core.KindDenied, "no", "no"), core.ErrDenied, 403},
		{"rate limit", core.Errorf(core.KindRateLimit, "slow", "slow"), core.ErrRateLimit, 429},
		{"upstream keeps the provider's status", &core.Error{Kind: core.KindUpstream, Status: 529}, core.ErrUpstream, 529},
		{"unreachable", core.Errorf(core.KindUnreachable, "down", "down"), core.ErrUnreachable, 502},
		{"retries exhausted", core.Errorf(core.KindRetriesExhausted, "again", "again"), core.ErrRetriesExhausted, 502},
		{"circuit open", core.Errorf(core.KindCircuitOpen, "open", "open"), core.ErrCircuitOpen, 503},
		{"timeout", core.Errorf(core.KindTimeout, "late", "late"), core.ErrTimeout, 504},
		{"wrapped", fmt.Errorf("calling: %w", core.Errorf(core.KindDenied, "no", "no")), core.ErrDenied, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.sentinel)
			}
			var e *core.Error
			if !errors.As(tt.err, &e) || e.HTTPStatus() != tt.wantStatus {
				t.Errorf("status = %d, want %d", e.HTTPStatus(), tt.wantStatus)
			}
			if errors.Is(tt.err, &core.Error{Kind: core.KindClientGone}) {
				t.Error("matched a sentinel of another kind")
			}
		})
	}
	if core.AsError(errors.New("plain")).HTTPStatus() != 500 {
		t.Error("a foreign error should be internal")
	}
}

func TestUsageEventCarriesDenialReasons(t *testing.T) {
	err := &core.Error{Kind: core.KindDenied, Code: "policy_denied", Message: "refused", Reasons: []string{"a", "b"}}
	o := &core.Outcome{Request: &core.Request{ID: "x"}, Err: fmt.Errorf("wrapped: %w", err), Status: core.StatusDenied}
	ev := core.NewUsageEvent(o)
	if len(ev.Reasons) != 2 || ev.Reasons[0] != "a" || ev.Reasons[1] != "b" {
		t.Errorf("reasons = %q", ev.Reasons)
	}
	err.Reasons[0] = "changed"
	if ev.Reasons[0] != "a" {
		t.Error("the event shares the error's slice")
	}
}
