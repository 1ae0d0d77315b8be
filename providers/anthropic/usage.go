package anthropic

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
)

// rawUsage is Anthropic's usage as reported, before normalizing.
type rawUsage struct {
	input, output, cacheRead, cacheWrite int64
	bad                                  error // the first count that could not be read
}

// set overwrites the fields usage reports; Anthropic's counts are
// cumulative, so a later report replaces an earlier one, never adds to it.
func (r *rawUsage) set(usage gjson.Result) {
	usage.ForEach(func(k, v gjson.Result) bool {
		var dst *int64
		switch k.Str {
		case "input_tokens":
			dst = &r.input
		case "output_tokens":
			dst = &r.output
		case "cache_read_input_tokens":
			dst = &r.cacheRead
		case "cache_creation_input_tokens":
			dst = &r.cacheWrite
		default:
			return true
		}
		n, reported, err := core.ReadCount(k.Str, v.Raw)
		if err != nil && r.bad == nil {
			r.bad = err
		}
		if reported { // null: not reported in this event
			*dst = n
		}
		return true
	})
}

// normalize returns tollgate's usage, every input token counted as input,
// under core's rule for reported usage: a report that cannot be true gives
// estimate instead, flagged, and false. report is the usage object's text.
func (r *rawUsage) normalize(report string, estimate core.Usage) (core.Usage, bool) {
	// A sum that wraps breaks the rule (a part larger than its whole).
	return core.ReportedUsage(core.Usage{
		InputTokens:       r.input + r.cacheRead + r.cacheWrite,
		OutputTokens:      r.output,
		CachedInputTokens: r.cacheRead,
		CacheWriteTokens:  r.cacheWrite,
	}, r.bad, report, estimate)
}

// Usage reads the usage object of a whole message. count_tokens answers and
// the other operations report none.
func (Format) Usage(req *core.Request, body []byte) (core.Usage, bool) {
	if req.Operation != OpMessages {
		return core.Usage{}, false
	}
	u := gjson.Get(str(body), "usage")
	if !u.IsObject() {
		return core.AnswerWithoutUsage(body), false
	}
	var r rawUsage
	r.set(u)
	return r.normalize(u.Raw, core.Usage{})
}

// ObserveStream reads usage from message_start (input, cache reads and
// writes, the first output count) and message_delta (cumulative counts that
// replace them). Until message_delta arrives it counts text deltas, so that
// a stream cut short records an estimate of its output.
func (Format) ObserveStream(req *core.Request) core.StreamObserver {
	return &observer{}
}

type observer struct {
	raw       rawUsage
	usage     core.Usage // raw normalized at the last report, or the estimate in its place
	believed  bool       // the last report could be true
	gotDelta  bool
	deltas    int64
	done      bool
	hasReport bool
	failure   string
}

var (
	usageKey = []byte(`"usage"`)
	textKey  = []byte(`"text_delta"`)
)

// Observe updates u from the events that carry usage. Every event is kept.
func (o *observer) Observe(ev *core.Event, u *core.Usage) bool {
	switch ev.Name {
	case "message_start":
		if bytes.Contains(ev.Data, usageKey) {
			o.report(gjson.Get(str(ev.Data), "message.usage"))
		}
	case "message_delta":
		if bytes.Contains(ev.Data, usageKey) {
			o.report(gjson.Get(str(ev.Data), "usage"))
			o.gotDelta = true
		}
	case "content_block_delta":
		if !o.gotDelta && bytes.Contains(ev.Data, textKey) {
			o.deltas++
		}
	case "message_stop":
		o.done = true
	case "error":
		// A failure mid-answer (overloaded_error); the stream then ends.
		e := gjson.Get(str(ev.Data), "error")
		o.failure = e.Get("type").String() + ": " + e.Get("message").String()
		return true
	default:
		return true
	}
	if !o.hasReport {
		return true
	}
	*u = o.usage
	if !o.gotDelta || !o.believed {
		// message_start's output count is a placeholder until
		// message_delta; a report not believed has the deltas' count.
		u.OutputTokens = max(u.OutputTokens, o.deltas)
		u.TotalTokens = u.InputTokens + u.OutputTokens
		u.Estimated = true
	}
	return true
}

// report takes a usage object of the stream.
func (o *observer) report(usage gjson.Result) {
	o.raw.set(usage)
	o.usage, o.believed = o.raw.normalize(usage.Raw, core.Usage{})
	o.hasReport = true
}

// Finished reports whether message_stop has passed.
func (o *observer) Finished() bool { return o.done }

// Failure is the error event the stream carried, if any.
func (o *observer) Failure() string { return o.failure }

var _ core.StreamFailer = (*observer)(nil)

// str views b as a string without copying: the bytes are not modified while
// the string is in use, and gjson results taken from it are not kept.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
