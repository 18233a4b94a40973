-- POST /analyze until LIMIT answers have come back (run with -t1 -c1).
wrk.method = "POST"
wrk.body = '{"document":"bench.pdf"}'
wrk.headers["Content-Type"] = "application/json"
local limit = tonumber(os.getenv("LIMIT") or "10000")
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
