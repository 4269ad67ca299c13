-- P2: the same request to each server, from the script's environment:
-- P2_METHOD (POST by default), P2_PATH, P2_BODY, and TONGBAN_TOKEN (sent as
-- a bearer token when set; the hello component under `wasmtime serve`
-- ignores the path, the headers and the body). Counts the answers by status,
-- and ends with one line the script reads:
--   rate <requests per second> non2xx <count> p50_ms <..> p99_ms <..>
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local token = os.getenv("TONGBAN_TOKEN")
  local method = os.getenv("P2_METHOD") or "POST"
  local path = os.getenv("P2_PATH") or "/"
  local body = os.getenv("P2_BODY")
  local headers = {}
  if body and body ~= "" then
    headers["Content-Type"] = "application/json"
  else
    body = nil
  end
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  -- Every request is the same, so it is formatted once.
  prepared = wrk.format(method, path, headers, body)
end

function request()
  return prepared
end

function response(status, headers, body)
  if not statuses[status] and (status < 200 or status >= 300) then
    io.write(string.format("first %d answer: %s\n", status, body))
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local non2xx = 0
  io.write("answers by status:")
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  for status, n in pairs(totals) do
    io.write(string.format(" %d: %d", status, n))
    if status < 200 or status >= 300 then
      non2xx = non2xx + n
    end
  end
  io.write("\n")
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  io.write(string.format("rate %.1f non2xx %d p50_ms %.2f p99_ms %.2f\n",
    summary.requests / (summary.duration / 1e6), non2xx,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
