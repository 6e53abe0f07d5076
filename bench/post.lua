-- wrk script for bench/run.sh: POST a small chat request and print one
-- machine-readable summary line (BENCH_RESULT ...) when the run ends.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "sk-bench-client-key")
wrk.body = os.getenv("BENCH_BODY") or
  '{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},' ..
  '{"role":"user","content":"Say hello in five words."}],"max_tokens":16,"user":"bench"}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f max_us=%d " ..
    "connect_err=%d read_err=%d write_err=%d timeout_err=%d status_err=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
