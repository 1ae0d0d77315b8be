package core

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The rule every wire format applies to the usage an upstream reports
// (docs/usage-events.md, "Usage that cannot be true"): a count is a whole
// number from 0 to 2⁶³−1; the parts of input (cache reads and writes) are
// at most input, reasoning at most output, and input + output fits in an
// int64. A report that breaks it is not recorded as if true: the call
// records the gateway's estimate, flagged Estimated, and the engine logs
// the report.

// maxReportQuote bounds how much of a report a problem quotes.
const maxReportQuote = 256

// ReadCount reads one token count of an upstream's usage report from the
// raw JSON text of its value. A count is a whole number from 0 to 2⁶³−1,
// written as a JSON number (12, 12.0, 1.2e1) or as one in quotes ("12":
// some OpenAI-compatible servers quote numbers, and the number is not in
// doubt). reported is false for null or an absent value (""); err names
// the count for anything else.
func ReadCount(name, raw string) (n int64, reported bool, err error) {
	if raw == "" || raw == "null" {
		return 0, false, nil
	}
	if n, ok := smallCount(raw); ok {
		return n, true, nil
	}
	s := raw
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if !isNumber(s) {
		return 0, true, fmt.Errorf("%s is %.40s, not a number", name, raw)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, true, nil
	}
	f, perr := strconv.ParseFloat(s, 64)
	switch {
	case f < 0:
		return 0, true, fmt.Errorf("%s is %.40s, a negative count", name, raw)
	case perr != nil || f >= 1<<63: // a number too large for a float64 too
		return 0, true, fmt.Errorf("%s is %.40s, more than an int64 holds", name, raw)
	case f != math.Trunc(f):
		return 0, true, fmt.Errorf("%s is %.40s, not a whole number", name, raw)
	}
	return int64(f), true, nil
}

// smallCount reads the count every upstream sends, digits without a
// leading zero, cheaper than strconv; up to 18 digits cannot overflow.
func smallCount(s string) (int64, bool) {
	if len(s) > 18 || s[0] < '1' && s != "0" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return n, true
}

// isNumber reports whether s is a JSON number: strconv alone also takes
// "+1", "0x1p4", "Inf" and "07".
func isNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsEnd(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		if i++; i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		i = digitsEnd(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		if i++; i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		i = digitsEnd(s, i)
	}
	return i == len(s)
}

func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// CheckUsage returns why u cannot be a true usage, or nil: a negative
// count, cache reads and writes that add up to more than the input, more
// reasoning than output, or input + output beyond an int64. A format that
// adds an upstream's counts may let the sum wrap; the wrapped sum always
// breaks one of these.
func CheckUsage(u Usage) error {
	switch {
	case u.InputTokens < 0 || u.OutputTokens < 0 || u.CachedInputTokens < 0 || u.CacheWriteTokens < 0 || u.ReasoningTokens < 0:
		return fmt.Errorf("a negative count (input %d, output %d, cached input %d, cache write %d, reasoning %d)",
			u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheWriteTokens, u.ReasoningTokens)
	case u.CachedInputTokens > u.InputTokens || u.CacheWriteTokens > u.InputTokens-u.CachedInputTokens:
		return fmt.Errorf("cached input %d and cache write %d are more than the input %d",
			u.CachedInputTokens, u.CacheWriteTokens, u.InputTokens)
	case u.ReasoningTokens > u.OutputTokens:
		return fmt.Errorf("reasoning %d is more than the output %d", u.ReasoningTokens, u.OutputTokens)
	case u.InputTokens > math.MaxInt64-u.OutputTokens:
		return fmt.Errorf("input %d + output %d is more than an int64 holds", u.InputTokens, u.OutputTokens)
	}
	return nil
}

// ReportedUsage is how a wire format turns an upstream's usage report into
// the call's usage. u holds the counts read from report (the report's raw
// text); readErr is the first count [ReadCount] could not read. When the
// report was read and u can be true ([CheckUsage]), it returns u with its
// total and true. Otherwise it returns estimate — what the gateway counted
// itself, such as a stream's text deltas — flagged Estimated, with Problem
// saying why and quoting the report, and false.
func ReportedUsage(u Usage, readErr error, report string, estimate Usage) (Usage, bool) {
	err := readErr
	if err == nil {
		err = CheckUsage(u)
	}
	if err != nil {
		return EstimatedUsage(estimate, "the usage it reported cannot be true: "+err.Error()+": "+clip(report, maxReportQuote)), false
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens
	u.Estimated, u.Problem = false, ""
	return u, true
}

// EstimatedUsage returns estimate as the call's usage in place of a report
// the upstream did not give or that could not be used; problem, if not
// empty, says why (the engine logs it). The estimate must itself obey the
// rule: a count it breaks is dropped to 0.
func EstimatedUsage(estimate Usage, problem string) Usage {
	if CheckUsage(estimate) != nil {
		estimate = Usage{}
	}
	estimate.TotalTokens = estimate.InputTokens + estimate.OutputTokens
	estimate.Estimated, estimate.Problem = true, problem
	return estimate
}

// AnswerWithoutUsage is what a wire format's Usage returns, with false,
// for a whole answer of a metered operation in which it found no usage to
// read — an HTML page, an empty or compressed body, broken JSON: the call
// reached the upstream, which may bill it, so it is recorded as estimated
// (nothing counted) and logged, not as a free call. Problem describes the
// body without quoting more than its first bytes.
func AnswerWithoutUsage(body []byte) Usage {
	var why string
	switch {
	case len(body) == 0:
		why = "the answer is empty"
	case len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b:
		why = fmt.Sprintf("the answer is gzip-compressed (%d bytes)", len(body))
	case !json.Valid(body):
		why = fmt.Sprintf("the answer is not JSON (%d bytes, starting %q)", len(body), cutAt(string(body[:min(len(body), 32)]), 32))
	default:
		why = fmt.Sprintf("the answer (%d bytes) has no usage to read", len(body))
	}
	return EstimatedUsage(Usage{}, why)
}
