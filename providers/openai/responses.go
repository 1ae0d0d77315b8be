package openai

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
)

// parseResponsesUsage reads the Responses API's usage object:
// input_tokens (cache reads included), output_tokens (reasoning included).
func parseResponsesUsage(r gjson.Result) core.Usage {
	var u core.Usage
	r.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "input_tokens":
			u.InputTokens = v.Int()
		case "output_tokens":
			u.OutputTokens = v.Int()
		case "input_tokens_details":
			u.CachedInputTokens = v.Get("cached_tokens").Int()
		case "output_tokens_details":
			u.ReasoningTokens = v.Get("reasoning_tokens").Int()
		}
		return true
	})
	u.TotalTokens = u.InputTokens + u.OutputTokens
	return u
}

// responsesUsage reads the usage of a whole response object.
func responsesUsage(body []byte) (core.Usage, bool) {
	r := gjson.Get(str(body), "usage")
	if !r.IsObject() {
		return core.Usage{}, false
	}
	return parseResponsesUsage(r), true
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
			*u = parseResponsesUsage(r)
			o.reported = true
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
		} else if t := gjson.Get(str(ev.Data), "type").Str; t == "response.completed" || t == "response.incomplete" || t == "response.failed" {
			ev2 := *ev
			ev2.Name = t
			return o.Observe(&ev2, u)
		}
	}
	return true
}

// Finished reports whether the terminal event has passed.
func (o *responsesObserver) Finished() bool { return o.done }

// Failure describes a response.failed event, if the stream carried one.
func (o *responsesObserver) Failure() string { return o.failure }

var _ core.StreamFailer = (*responsesObserver)(nil)

// str views b as a string without copying: the bytes are not modified while
// the string is in use, and no string taken from it is kept.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
