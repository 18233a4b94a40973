-- POST /analyze, counting answers per status code; done() prints one line
-- "status 202=N 503=M ...". With LIMIT set, a thread stops after LIMIT 202s
-- (requests still in flight may add a few more jobs than LIMIT).
wrk.method = "POST"
wrk.body = '{"document":"bench.pdf"}'
wrk.headers["Content-Type"] = "application/json"
local limit = tonumber(os.getenv("LIMIT") or "0")
local threads = {}
counts = {}  -- global: done() reads it from each thread with thread:get

function setup(thread) table.insert(threads, thread) end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if limit > 0 and status == 202 and counts[202] >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("counts")) do total[code] = (total[code] or 0) + n end
  end
  local codes = {}
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  local line = "status"
  for _, code in ipairs(codes) do line = line .. " " .. code .. "=" .. total[code] end
  io.write(line, "\n")
end
