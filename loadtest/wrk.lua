-- The load harness's wrk script: POST the body in $LOADTEST_BODY with the
-- headers a client of the gateway sends, stop a thread after
-- $LOADTEST_MAX_PER_THREAD requests (a bound beside wrk's -d), and print
-- the figures as one JSON line for the harness to read: the percentiles,
-- and the whole latency histogram (each distinct latency in µs with its
-- count) so that the harness can pool runs interleaved with other targets.
local f = assert(io.open(os.getenv("LOADTEST_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-load"
wrk.headers["X-Tollgate-Customer"] = "acme"

local limit = tonumber(os.getenv("LOADTEST_MAX_PER_THREAD") or "0")
local sent = 0
local req

init = function(args)
  req = wrk.format()
end

request = function()
  sent = sent + 1
  if limit > 0 and sent >= limit then
    wrk.thread:stop()
  end
  return req
end

done = function(summary, latency, requests)
  local e = summary.errors
  local bins = {}
  for i = 1, #latency do
    local v, n = latency(i)
    bins[i] = string.format("[%d,%d]", v, n)
  end
  io.write(string.format(
    'LOADTEST_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.2f,"max_us":%d,"hist":[%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max, table.concat(bins, ",")))
end
