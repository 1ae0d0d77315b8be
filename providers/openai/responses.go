package openai

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
)

// parseResponsesUsage reads the Responses API's usage object:
// input_tokens (cache reads included), output_tokens (reasoning included),
// under core's rule for reported usage (see parseUsage).
func parseResponsesUsage(r gjson.Result, estimate core.Usage) (core.Usage, bool) {
	var u core.Usage
	var bad error
	read := func(dst *int64, name, raw string) {
		n, _, err := core.ReadCount(name, raw)
		if err != nil && bad == nil {
			bad = err
		}
		*dst = n
	}
	r.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "input_tokens":
			read(&u.InputTokens, k.Str, v.Raw)
		case "output_tokens":
			read(&u.OutputTokens, k.Str, v.Raw)
		case "input_tokens_details":
			read(&u.CachedInputTokens, "input_tokens_details.cached_tokens", v.Get("cached_tokens").Raw)
		case "output_tokens_details":
			read(&u.ReasoningTokens, "output_tokens_details.reasoning_tokens", v.Get("reasoning_tokens").Raw)
		}
		return true
	})
	return core.ReportedUsage(u, bad, r.Raw, estimate)
}

// responsesUsage reads the usage of a whole response object.
func responsesUsage(req *core.Request, body []byte) (core.Usage, bool) {
	r := gjson.Get(str(body), "usage")
	if !r.IsObject() {
		switch gjson.Get(str(body), "status").Str {
		case "queued", "in_progress":
			return core.Usage{}, false // background mode: the usage comes later, with the response
		}
		return answerWithoutUsage(req, body), false
	}
	return parseResponsesUsage(r, core.Usage{})
}

// responsesObserver reads usage from the terminal event of a Responses
// stream (response.completed, .incomplete or .failed), whose response
// object carries it. Until then it counts text deltas as an estimate.
type responsesObserver struct {
	done     bool
	reported bool
	failure  string
}

var outputTextDelta = []byte(`"response.output_text.delta"`)

func (o *responsesObserver) Observe(ev *core.Event, u *core.Usage) bool {
	switch ev.Name {
	case "response.completed", "response.incomplete", "response.failed":
		o.done = true
		if ev.Name == "response.failed" {
			e := gjson.Get(str(ev.Data), "response.error")
			o.failure = "response.failed: " + e.Get("code").String() + ": " + e.Get("message").String()
		}
		if r := gjson.Get(str(ev.Data), "response.usage"); r.IsObject() {
			*u, _ = parseResponsesUsage(r, *u) // until now u counted text deltas
			o.reported = true
		}
	case "error":
		// A failure mid-answer: {"type":"error","code","message",…}; the
		// stream then ends without a terminal response event.
		if o.failure == "" {
			o.failure = describeError(str(ev.Data))
		}
	case "response.output_text.delta":
		if !o.reported {
			u.OutputTokens++
			u.Estimated = true
		}
	case "":
		// A server that sends no event names: the type is in the data.
		if bytes.Contains(ev.Data, outputTextDelta) && !o.reported {
			u.OutputTokens++
			u.Estimated = true
		} else if t := gjson.Get(str(ev.Data), "type").Str; t == "response.completed" || t == "response.incomplete" || t == "response.failed" || t == "error" {
			ev2 := *ev
			ev2.Name = t
			return o.Observe(&ev2, u)
		}
	}
	return true
}

// Finished reports whether the terminal event has passed.
func (o *responsesObserver) Finished() bool { return o.done }

// Failure describes a response.failed or error event, if the stream
// carried one.
func (o *responsesObserver) Failure() string { return o.failure }

var _ core.StreamFailer = (*responsesObserver)(nil)

// str views b as a string without copying: the bytes are not modified while
// the string is in use, and no string taken from it is kept.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
