package loadtest

import (
	"math"
	"slices"
)

// bin is one distinct latency of a wrk run, in µs, and how many calls took it.
type bin struct{ us, n int64 }

// pool merges the samples of one target's interleaved slices into one: the
// counts add up, the rates and CPU per call are over all the calls, and the
// percentiles are read from the slices' pooled histograms, the way wrk
// reads its own. (wrk records a latency for every call it counts, so a
// slice with calls always has a histogram.)
func pool(parts []Sample) Sample {
	if len(parts) == 1 {
		return parts[0]
	}
	var out Sample
	var cpu, upCPU, mean, load float64
	var bins []bin
	for _, s := range parts {
		out.Requests += s.Requests
		out.Errors += s.Errors
		out.Seconds += s.Seconds
		cpu += s.CPUPerReq * float64(s.Requests)
		upCPU += s.UpCPUPer * float64(s.Requests)
		mean += s.Mean * float64(s.Requests)
		load += s.LoadAvg1
		out.MaxRSSKB = max(out.MaxRSSKB, s.MaxRSSKB)
		out.MaxAnonKB = max(out.MaxAnonKB, s.MaxAnonKB)
		if out.FirstError == "" {
			out.FirstError = s.FirstError
		}
		bins = append(bins, s.hist...)
	}
	out.LoadAvg1 = load / float64(len(parts))
	if out.Seconds > 0 {
		out.RPS = float64(out.Requests) / out.Seconds
	}
	if out.Requests > 0 {
		out.CPUPerReq = cpu / float64(out.Requests)
		out.UpCPUPer = upCPU / float64(out.Requests)
		out.Mean = mean / float64(out.Requests)
	}
	slices.SortFunc(bins, func(a, b bin) int { return int(a.us - b.us) })
	out.P50, out.P90, out.P99, out.P999 = binPercentile(bins, 50), binPercentile(bins, 90), binPercentile(bins, 99), binPercentile(bins, 99.9)
	return out
}

// binPercentile is wrk's stats_percentile over sorted bins: the smallest
// latency whose cumulative count reaches round(p/100·count + 0.5).
func binPercentile(bins []bin, p float64) float64 {
	var count int64
	for _, b := range bins {
		count += b.n
	}
	rank := int64(math.Round(p/100*float64(count) + 0.5))
	var total int64
	for _, b := range bins {
		total += b.n
		if total >= rank {
			return float64(b.us)
		}
	}
	return 0
}
