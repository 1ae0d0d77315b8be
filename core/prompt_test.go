package core_test

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// promptFormat is meterFormat whose upstreams report usage only at the
// end of a stream, as OpenAI's do: it estimates every prompt at prompt
// tokens, and counts how often it was asked.
type promptFormat struct {
	meterFormat
	prompt int64
	asked  *int
}

func (f promptFormat) PromptTokens(*core.Request) int64 {
	*f.asked++
	return f.prompt
}

func TestEstimatePrompt(t *testing.T) {
	tests := []struct {
		name   string
		format core.Format
		u      core.Usage
		want   core.Usage
	}{
		{"a stream cut short", promptFormat{prompt: 40}, core.Usage{OutputTokens: 2, TotalTokens: 2, Estimated: true},
			core.Usage{InputTokens: 40, OutputTokens: 2, TotalTokens: 42, Estimated: true}},
		{"nothing counted at all", promptFormat{prompt: 40}, core.Usage{},
			core.Usage{InputTokens: 40, TotalTokens: 40, Estimated: true}},
		{"the problem is kept", promptFormat{prompt: 40}, core.Usage{Estimated: true, Problem: "a negative count"},
			core.Usage{InputTokens: 40, TotalTokens: 40, Estimated: true, Problem: "a negative count"}},
		{"input already counted", promptFormat{prompt: 40}, core.Usage{InputTokens: 9, Estimated: true},
			core.Usage{InputTokens: 9, Estimated: true}},
		{"a format that makes no estimate", meterFormat{}, core.Usage{OutputTokens: 2, Estimated: true},
			core.Usage{OutputTokens: 2, Estimated: true}},
		{"a prompt it cannot estimate", promptFormat{prompt: 0}, core.Usage{OutputTokens: 2, Estimated: true},
			core.Usage{OutputTokens: 2, Estimated: true}},
		{"an estimate that breaks the rule", promptFormat{prompt: math.MaxInt64}, core.Usage{OutputTokens: 2, Estimated: true},
			core.Usage{OutputTokens: 2, Estimated: true}},
		{"a negative estimate", promptFormat{prompt: -5}, core.Usage{OutputTokens: 2, Estimated: true},
			core.Usage{OutputTokens: 2, Estimated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, ok := tt.format.(promptFormat); ok {
				f.asked = new(int)
				tt.format = f
			}
			got := core.EstimatePrompt(&core.Request{Format: tt.format}, tt.u)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if core.CheckUsage(got) != nil {
				t.Errorf("%+v breaks the usage rule", got)
			}
		})
	}
}

// A stream metered where the call stage made it that ends without the
// upstream's report — the client gone before or after the first event,
// the upstream broken or cut short — records the prompt's estimate as its
// input, flagged; one that got the report records the report, and the
// format is never asked. A stream no upstream sent (a stage's own) is not
// given an estimate of a prompt no upstream had.
func TestStreamWithoutAReportEstimatesItsPrompt(t *testing.T) {
	tests := []struct {
		name      string
		up        *upstream
		most      int // events read before closing; -1 reads to the end
		metered   bool
		want      core.Usage
		wantAsked int
	}{
		{"the report came", &upstream{data: []string{"x", "u=7", "end"}}, -1, true,
			core.Usage{InputTokens: 3, OutputTokens: 7, TotalTokens: 10}, 0},
		{"the client gone after an event", &upstream{data: []string{"x", "x", "u=7", "end"}}, 1, true,
			core.Usage{InputTokens: 40, OutputTokens: 1, TotalTokens: 41, Estimated: true}, 1},
		{"the client gone before the first event", &upstream{data: []string{"x", "u=7", "end"}}, 0, true,
			core.Usage{InputTokens: 40, TotalTokens: 40, Estimated: true}, 1},
		{"the upstream broke", &upstream{data: []string{"x", "x"}, end: errors.New("connection reset")}, -1, true,
			core.Usage{InputTokens: 40, OutputTokens: 2, TotalTokens: 42, Estimated: true}, 1},
		{"the upstream ended before its last event", &upstream{data: []string{"x"}}, -1, true,
			core.Usage{InputTokens: 40, OutputTokens: 1, TotalTokens: 41, Estimated: true}, 1},
		{"the upstream reported an error", &upstream{data: []string{"x", "fail", "end"}}, -1, true,
			core.Usage{InputTokens: 40, OutputTokens: 1, TotalTokens: 41, Estimated: true}, 1},
		{"a stream a stage made", &upstream{data: []string{"x"}}, 1, false,
			core.Usage{OutputTokens: 1, TotalTokens: 1, Estimated: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := 0
			rec := &outcomes{}
			answer := func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
				resp := &core.Response{Status: 200, Stream: tt.up}
				if tt.metered {
					return core.MeterStream(req, resp), nil
				}
				return resp, nil
			}
			p := core.NewPipeline([]core.Stage{core.StageFunc(answer)}, []core.Completer{rec}, nil)
			eng := core.New(core.WithPipeline(p), core.WithFormats(promptFormat{prompt: 40, asked: &asked}),
				core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
			resp, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; tt.most < 0 || i < tt.most; i++ {
				if _, err := resp.Stream.Next(); err != nil {
					if err == io.EOF && tt.most >= 0 {
						t.Fatal("the stream ended before the client left")
					}
					break
				}
			}
			resp.Stream.Close()
			if len(rec.all) != 1 {
				t.Fatalf("%d outcomes, want 1", len(rec.all))
			}
			if got := rec.all[0].Usage; got != tt.want || asked != tt.wantAsked {
				t.Errorf("usage %+v, the prompt estimated %d times; want %+v, %d", got, asked, tt.want, tt.wantAsked)
			}
		})
	}
}

// A stage that fails on a stream the upstream began (a guardrail failing
// closed) leaves the engine to close it: the call records the prompt's
// estimate too.
func TestStreamAStageFailedOnEstimatesItsPrompt(t *testing.T) {
	asked := 0
	rec := &outcomes{}
	up := &upstream{data: []string{"x", "x", "u=7", "end"}}
	guard := core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp, err := next(ctx, req)
		if err != nil {
			return nil, err
		}
		resp.Stream.Next()
		return nil, errors.New("the guardrail failed")
	})
	p := core.NewPipeline([]core.Stage{guard, callStage(up)}, []core.Completer{rec}, nil)
	eng := core.New(core.WithPipeline(p), core.WithFormats(promptFormat{prompt: 40, asked: &asked}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/op"}); err == nil {
		t.Fatal("the call succeeded")
	}
	want := core.Usage{InputTokens: 40, OutputTokens: 1, TotalTokens: 41, Estimated: true}
	if got := rec.all[0].Usage; got != want || asked != 1 || up.closes != 1 {
		t.Errorf("usage %+v, estimated %d times, closed %d times; want %+v, once, once", got, asked, up.closes, want)
	}
}
