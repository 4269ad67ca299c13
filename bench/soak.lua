-- Soak (issue 13, item 8): a mix of what a platform serves on an ordinary
-- busy day, from every connection at once:
--
--   page    signed-in citizen pages (李四's session cookie): the services
--           list, a service, her cases, one case, her wallet, inbox, consents;
--   public  pages without a session: the home page, the sign-in form, the
--           stylesheet;
--   apply   POST /api/v1/applications as 张三 (API token), each with a new
--           submission key;
--   accept, hand-off, approve
--           the staff steps on the cases this run opened: the window clerk
--           accepts and hands the case to the district bureau, whose handler
--           approves (which makes the app issue a licence).
--
-- wrk's response() does not say which request it answers, so every request
-- carries its kind in `x-request-id`, which the server echoes. Each thread
-- keeps a queue of staff steps: an answered application queues its case's
-- acceptance, an acceptance its hand-off, a hand-off its approval. The
-- answers are counted by kind and status, 503s also by error code.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

-- The share of requests of each kind; staff steps take their share only when
-- a step is waiting, else the request becomes a signed-in page.
local APPLY_SHARE = 0.25
local STEP_SHARE = 0.30
local SIGNED_IN_SHARE = 0.30
-- The rest are public pages.

-- A step queue longer than this drops new steps (counted), so that a run
-- whose steps fall behind its applications keeps bounded memory in wrk.
local QUEUE_LIMIT = 20000

function init(args)
  thread_id = id
  counts = {}
  first_bodies = {}
  dropped_steps = 0
  counter = 0
  steps = {}
  steps_head = 1
  steps_tail = 0
  math.randomseed(os.time() + thread_id * 7919)

  citizen_token = os.getenv("TONGBAN_TOKEN")
  clerk_token = os.getenv("TONGBAN_CLERK_TOKEN")
  handler_token = os.getenv("TONGBAN_HANDLER_TOKEN")
  handling_org = os.getenv("TONGBAN_HANDLING_ORG")
  session_cookie = os.getenv("TONGBAN_SESSION")
  own_case = os.getenv("TONGBAN_PAGE_CASE")
  stylesheet = os.getenv("TONGBAN_STYLESHEET")
  region = os.getenv("TONGBAN_REGION") or "330100"
  app = os.getenv("TONGBAN_APP") or "cn.gov.hz.amr.sole-proprietor"
  run = os.getenv("TONGBAN_RUN") or tostring(os.time())
  form = [[{"operator":{"name":"张三","id-number":"330106199003070014","phone":"13800138000"},]] ..
    [["business":{"trade-name":"西湖小厨","industry":"餐饮","scope":["餐饮服务"],"address":"浙江省杭州市西湖区文三路90号","capital-yuan":50000}}]]

  signed_in_pages = {
    "/",
    "/services/" .. app,
    "/my/cases",
    "/my/cases/" .. own_case,
    "/my/wallet",
    "/my/inbox",
    "/my/consents",
  }
  public_pages = { "/", "/login", stylesheet }
end

local function queue_step(kind, case)
  if steps_tail - steps_head + 1 >= QUEUE_LIMIT then
    dropped_steps = dropped_steps + 1
    return
  end
  steps_tail = steps_tail + 1
  steps[steps_tail] = { kind = kind, case = case }
end

local function next_step()
  if steps_head > steps_tail then
    return nil
  end
  local step = steps[steps_head]
  steps[steps_head] = nil
  steps_head = steps_head + 1
  return step
end

local function request_id(kind)
  counter = counter + 1
  return kind .. "-" .. run .. "-" .. thread_id .. "-" .. counter
end

local function page(path, kind, cookie)
  local headers = { ["x-request-id"] = request_id(kind), ["Accept-Language"] = "zh-CN" }
  if cookie then
    headers["Cookie"] = cookie
  end
  return wrk.format("GET", path, headers)
end

local function staff_step(step)
  local token, body
  if step.kind == "accept" then
    token, body = clerk_token, '{"action":"accept"}'
  elseif step.kind == "hand-off" then
    token = clerk_token
    body = '{"action":"hand-off","to_org":"' .. handling_org .. '","reason":"属地办理"}'
  else
    token, body = handler_token, '{"action":"approve","reason":"准予登记"}'
  end
  return wrk.format("POST", "/api/v1/cases/" .. step.case .. "/steps", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["x-request-id"] = request_id(step.kind),
  }, body)
end

function request()
  local r = math.random()
  if r < APPLY_SHARE then
    local id = request_id("apply")
    local body = '{"region":"' .. region .. '","app":"' .. app .. '","form":' .. form ..
      ',"submission_key":"' .. id .. '"}'
    return wrk.format("POST", "/api/v1/applications", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. citizen_token,
      ["x-request-id"] = id,
    }, body)
  end
  r = r - APPLY_SHARE
  if r < STEP_SHARE then
    local step = next_step()
    if step then
      return staff_step(step)
    end
    return page(signed_in_pages[math.random(#signed_in_pages)], "page", session_cookie)
  end
  r = r - STEP_SHARE
  if r < SIGNED_IN_SHARE then
    return page(signed_in_pages[math.random(#signed_in_pages)], "page", session_cookie)
  end
  return page(public_pages[math.random(#public_pages)], "public", nil)
end

-- What each answered kind queues next.
local FOLLOWS = { apply = "accept", accept = "hand-off", ["hand-off"] = "approve" }

function response(status, headers, body)
  local rid = headers["x-request-id"] or headers["X-Request-Id"] or ""
  local kind = rid:match("^([%a-]-)%-" .. run) or "unknown"
  local key = kind .. " " .. status
  if status == 503 then
    local code = body:match('"code":"([%w_]+)"') or "page"
    key = key .. " " .. code
  end
  if status >= 400 and not first_bodies[key] then
    first_bodies[key] = body:sub(1, 300)
  end
  counts[key] = (counts[key] or 0) + 1
  local follow = FOLLOWS[kind]
  if follow and (status == 200 or status == 201) then
    -- An application answers {"case":{"id":...}}, a step the case itself;
    -- either way the case's id is the first "id" of the body.
    local case = body:match('"id":"([^"]+)"')
    if case then
      queue_step(follow, case)
    end
  end
end

function done(summary, latency, requests)
  local totals = {}
  local firsts = {}
  local dropped = 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do
      totals[key] = (totals[key] or 0) + n
    end
    for key, body in pairs(thread:get("first_bodies")) do
      firsts[key] = firsts[key] or body
    end
    dropped = dropped + thread:get("dropped_steps")
  end
  local keys = {}
  for key in pairs(totals) do
    table.insert(keys, key)
  end
  table.sort(keys)
  -- One line per kind and status, for bench/soak.sh to sum up.
  for _, key in ipairs(keys) do
    io.write(string.format("answer %s %d\n", key, totals[key]))
  end
  for _, key in ipairs(keys) do
    if firsts[key] then
      io.write(string.format("first %s: %s\n", key, firsts[key]:gsub("\n", " ")))
    end
  end
  io.write(string.format("steps dropped (queue full): %d\n", dropped))
  io.write(string.format("latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
