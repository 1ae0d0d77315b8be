package ratelimit

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// tokenCall is a chat call asking for up to maxTokens of output.
func tokenCall(id string, maxTokens string) *core.Request {
	return keyCall(id, nil, `{"model":"gpt-4o-mini","max_tokens":`+maxTokens+`,"messages":[]}`)
}

// fits reports whether a call estimated at about 615 tokens (max_tokens
// 600) passes the limiter now.
func fits(t *testing.T, rl *RateLimit) bool {
	t.Helper()
	_, err := rl.Handle(context.Background(), tokenCall("probe", "600"), used(0))
	if err != nil && !errors.Is(err, core.ErrRateLimit) {
		t.Fatal(err)
	}
	return err == nil
}

// brokenStream is a stream the engine has read usage from (resp.Usage
// holds what its observer counted) when it ends with err.
type brokenStream struct{ err error }

func (s brokenStream) Next() (*core.Event, error) { return nil, s.err }
func (brokenStream) Close() error                 { return nil }

// TestReconciledToWhatTheLedgerRecords: whatever way a call ends, its
// tokens are reconciled to the usage the engine records for it — a
// stream ended early to the usage counted so far, an answer a stage
// refused to the tokens it spent, an answer without usage to none — not
// left at the estimate taken before the call, and not refunded when the
// answer was spent. On both backends.
func TestReconciledToWhatTheLedgerRecords(t *testing.T) {
	cutShort := core.Usage{OutputTokens: 3, Estimated: true}
	stream := func(err error) core.HandlerFunc {
		return func(context.Context, *core.Request) (*core.Response, error) {
			return &core.Response{Status: 200, Usage: cutShort, Stream: brokenStream{err}}, nil
		}
	}
	tests := []struct {
		name     string
		next     core.HandlerFunc
		end      func(*core.Response) // what the engine does with the answer
		wantFits bool                 // whether a second call of ~615 tokens fits in 1000 after it
	}{
		{"a stream the upstream broke", stream(io.ErrUnexpectedEOF), readToEnd, true},
		{"a stream cut short cleanly", stream(io.EOF), readToEnd, true},
		{"a stream the client left", stream(io.EOF), func(r *core.Response) { r.Stream.Close() }, true},
		{"an answer without usage", func(context.Context, *core.Request) (*core.Response, error) {
			return &core.Response{Status: 200, Body: []byte(`<html>502</html>`)}, nil
		}, nil, true},
		{"an answer a stage refused after it was spent", func(context.Context, *core.Request) (*core.Response, error) {
			return &core.Response{Status: 200, Usage: core.Usage{InputTokens: 300, OutputTokens: 500}, UsageKnown: true},
				&core.Error{Kind: core.KindDenied, Message: "the answer broke a policy"}
		}, nil, false},
		{"an answer a stage refused, read from its body", func(context.Context, *core.Request) (*core.Response, error) {
			return &core.Response{Status: 200, Body: []byte(`{"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":500}}`)},
				&core.Error{Kind: core.KindDenied, Message: "the answer broke a policy"}
		}, nil, false},
		// A stage failing closed passes the stream on beside its error
		// (pipeline's guard), the engine records what it had spent.
		{"a stream a stage failed on after it was spent", func(context.Context, *core.Request) (*core.Response, error) {
			return &core.Response{Status: 200, Usage: core.Usage{InputTokens: 300, OutputTokens: 500}, Stream: brokenStream{io.EOF}},
				&core.Error{Kind: core.KindInternal, Stage: "policy", Message: "the stage failed"}
		}, nil, false},
		{"usage that cannot be true", func(context.Context, *core.Request) (*core.Response, error) {
			// A plugin's: cached input beyond the input. The engine records 0.
			return &core.Response{Status: 200, Usage: core.Usage{InputTokens: 5000, CachedInputTokens: 9000}, UsageKnown: true}, nil
		}, nil, true},
	}
	for _, be := range backends {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				rl := newLimiter(t, map[string]any{"tokens_per_minute": 1000}, be.env(t), "")
				resp, _ := rl.Handle(context.Background(), tokenCall("first", "600"), tt.next)
				if tt.end != nil {
					tt.end(resp)
				}
				if got := fits(t, rl); got != tt.wantFits {
					t.Errorf("a second call fits: %v, want %v", got, tt.wantFits)
				}
			})
		}
	}
}

// TestRefundOfACallOverTheLimit: a call estimated above the whole limit
// is charged the whole limit, and reconciled from that, not from its
// estimate: a refund of the difference to its estimate emptied the
// bucket of every other call's tokens too.
func TestRefundOfACallOverTheLimit(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			rl := newLimiter(t, map[string]any{"tokens_per_minute": 1000}, be.env(t), "")
			ctx := context.Background()
			if _, err := rl.Handle(ctx, tokenCall("big", "5000"), used(500)); err != nil {
				t.Fatal(err) // estimated at ~5015, charged 1000, used 500
			}
			if fits(t, rl) {
				t.Error("a call of ~615 tokens fits in the 500 left")
			}
		})
	}
}

// readToEnd reads a stream as a client does, to its end.
func readToEnd(r *core.Response) {
	for {
		if _, err := r.Stream.Next(); err != nil {
			return
		}
	}
}

// TestAnEstimatedUsageIsChargedItsPrompt: a stream cut short before the
// provider's usage chunk records the output it counted and no prompt
// tokens (the provider's count is unknown); the limits count the prompt's
// estimate, so a client cannot spend a long prompt outside its token limit
// by hanging up before the last chunk. On both backends.
func TestAnEstimatedUsageIsChargedItsPrompt(t *testing.T) {
	long := keyCall("long", nil, `{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"`+
		strings.Repeat("word ", 500)+`"}]}`) // ~640 tokens estimated for its prompt
	cut := func(context.Context, *core.Request) (*core.Response, error) {
		return &core.Response{Status: 200, Usage: core.Usage{OutputTokens: 3, Estimated: true}, Stream: brokenStream{io.EOF}}, nil
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			rl := newLimiter(t, map[string]any{"tokens_per_minute": 1000}, be.env(t), "")
			resp, err := rl.Handle(context.Background(), long, cut)
			if err != nil {
				t.Fatal(err)
			}
			resp.Stream.Close() // the client hangs up
			if fits(t, rl) {
				t.Error("a second call of ~615 tokens fits in 1000 after a ~640-token prompt: the prompt was not charged")
			}
		})
	}
}
