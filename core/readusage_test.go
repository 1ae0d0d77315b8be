package core_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// readFormat is fakeFormat whose answers report usage as "u=N" (N output
// tokens); any other body has none to read. It counts the reads.
type readFormat struct {
	fakeFormat
	reads *int
}

func (f readFormat) Usage(_ *core.Request, b []byte) (core.Usage, bool) {
	*f.reads++
	if n, err := strconv.ParseInt(strings.TrimPrefix(string(b), "u="), 10, 64); err == nil && strings.HasPrefix(string(b), "u=") {
		return core.Usage{InputTokens: 1, OutputTokens: n}, true
	}
	return core.AnswerWithoutUsage(b), false
}

// answerStage answers with body and reads its usage, as the call stage does.
func answerStage(body string) core.StageFunc {
	return func(_ context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
		resp := &core.Response{Status: 200, Body: []byte(body)}
		resp.ReadUsage(req)
		return resp, nil
	}
}

// readerStage reads the answer's usage after next, as a rate limit does,
// then lets change make of the answer what a stage may (nil: nothing).
func readerStage(change func(*core.Response) *core.Response) core.StageFunc {
	return func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp, err := next(ctx, req)
		resp.ReadUsage(req)
		if change != nil {
			resp = change(resp)
		}
		return resp, err
	}
}

// runRead makes one call through stages over readFormat and returns its
// outcome and how often an answer was read for usage.
func runRead(t *testing.T, stages ...core.Stage) (*core.Outcome, int) {
	t.Helper()
	reads, rec := 0, &outcomes{}
	eng := core.New(core.WithPipeline(core.NewPipeline(stages, []core.Completer{rec}, nil)),
		core.WithFormats(readFormat{reads: &reads}), core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")))
	if _, err := eng.Do(context.Background(), &core.Request{Path: "/op"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.all) != 1 {
		t.Fatalf("%d outcomes, want 1", len(rec.all))
	}
	return rec.all[0], reads
}

// An answer with no usage to read is read once, however many stages and
// the engine then want its usage; it is recorded as the estimate.
func TestAnswerWithoutUsageIsReadOnce(t *testing.T) {
	o, reads := runRead(t, readerStage(nil), readerStage(nil), answerStage("<html>502</html>"))
	if reads != 1 {
		t.Errorf("the answer was read for usage %d times, want 1", reads)
	}
	if !o.Usage.Estimated || !strings.Contains(o.Usage.Problem, "not JSON") {
		t.Errorf("usage %+v, want the estimate saying the answer is not JSON", o.Usage)
	}
}

// A stage that gives the answer a new body after its usage was read and
// found missing has the new body read: its usage is recorded, not the
// first body's lack of it.
func TestNewBodyIsReadForUsage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		body   string // the upstream's, with no usage
		change func(*core.Response) *core.Response
	}{
		{"a new body", "no usage", func(r *core.Response) *core.Response { r.Body = []byte("u=7"); return r }},
		{"a new body of the same length", "u=x", func(r *core.Response) *core.Response { r.Body = []byte("u=7"); return r }},
		{"the body cut to its start", "u=7 and more", func(r *core.Response) *core.Response { r.Body = r.Body[:3]; return r }},
		{"a new answer carrying the first one's usage", "no usage", func(r *core.Response) *core.Response {
			return &core.Response{Status: 200, Body: []byte("u=7"), Usage: r.Usage, UsageKnown: r.UsageKnown}
		}},
		{"a copy of the answer with a new body", "no usage", func(r *core.Response) *core.Response {
			c := *r
			c.Body = []byte("u=7")
			return &c
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A second reader outside the change reads the new body; the
			// engine then reads nothing more.
			o, reads := runRead(t, readerStage(nil), readerStage(tt.change), answerStage(tt.body))
			if o.Usage.OutputTokens != 7 || o.Usage.Estimated {
				t.Errorf("usage %+v, want the 7 output tokens the new body reports", o.Usage)
			}
			if reads != 2 {
				t.Errorf("the answer was read for usage %d times, want 2: each body once", reads)
			}
		})
	}
}
