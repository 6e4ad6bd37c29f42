-- wrk's report for benchmarks/dataplane_throughput.py: one JSON line with the request count,
-- the errors and the latency percentiles (microseconds) that draw the CDF.
done = function(summary, latency, requests)
  local e = summary.errors
  local points = {}
  for p = 1, 99 do points[#points + 1] = p end
  points[#points + 1] = 99.5
  points[#points + 1] = 99.9
  local out = {}
  for _, p in ipairs(points) do
    out[#out + 1] = string.format('"%g": %d', p, latency:percentile(p))
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "errors": %d, "percentiles_us": {%s}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    table.concat(out, ", ")))
end
