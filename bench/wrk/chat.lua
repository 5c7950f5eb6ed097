-- A non-streamed chat completion; BENCH_KEY (when set) is sent as the bearer key.
wrk.method = "POST"
wrk.body = '{"model":"bench-model","max_tokens":64,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
