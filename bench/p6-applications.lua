-- P6: citizens applying at once. Every request is a new application with its
-- own submission key, as a browser sends one per filled-in form. Counts the
-- answers by status, so the run reports 503s (admission control) apart from
-- every other non-2xx.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  statuses = {}
  token = os.getenv("TONGBAN_TOKEN")
  region = os.getenv("TONGBAN_REGION") or "330100"
  app = os.getenv("TONGBAN_APP") or "cn.gov.hz.amr.sole-proprietor"
  form = [[{"operator":{"name":"张三","id-number":"330106199003070014","phone":"13800138000"},]] ..
    [["business":{"trade-name":"西湖小厨","industry":"餐饮","scope":["餐饮服务"],"address":"浙江省杭州市西湖区文三路90号","capital-yuan":50000}}]]
  run = os.getenv("TONGBAN_RUN") or tostring(os.time())
end

function request()
  counter = counter + 1
  local body = '{"region":"' .. region .. '","app":"' .. app .. '","form":' .. form ..
    ',"submission_key":"p6-' .. run .. '-' .. thread_id .. '-' .. counter .. '"}'
  return wrk.format("POST", "/api/v1/applications", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function response(status, headers, body)
  if not statuses[status] and status >= 400 then
    io.write(string.format("first %d answer: %s\n", status, body))
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  io.write("answers by status:\n")
  for status, n in pairs(totals) do
    io.write(string.format("  %d: %d\n", status, n))
  end
  io.write(string.format("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
