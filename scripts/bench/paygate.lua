-- wrk script for paygate's internal API: every request is signed in Lua (HMAC-SHA256,
-- sha256.lua) with a fresh timestamp and a unique nonce.
--   BENCH_MODE    gopay | query | notify
--   BENCH_APP_ID  the app id; BENCH_SECRET its HMAC secret
--   BENCH_TAG     unique per wrk run ([A-Za-z0-9], 4-20 chars): prefixes nonces and out_order_no
--   BENCH_TRADES  (query) a file of trade_no, one a line, cycled through by the threads
--   BENCH_OUT     where done() writes one JSON line of wrk's counts and latencies
--   BENCH_BODIES  (notify) a file of signed Alipay notification forms, one a line (notify.py);
--                 thread t of BENCH_NTHREADS sends lines t, t+n, …: each one once. A thread
--                 that runs out asks for a path that answers 404, so the phase fails
--   BENCH_NOTIFY_PATH (notify) /notify/alipay/<account_id>
--   BENCH_RATE    requests per second for the whole run (all threads, all connections): paced
--                 with wrk's delay(); unset: as fast as the connections go (closed loop)
-- gopay bodies: {"out_order_no":"B<tag>-<thread>-<n>","pay_type":"alipay.page",...}
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local sha = dofile(dir .. "sha256.lua")

local mode = os.getenv("BENCH_MODE") or "gopay"
local app_id = os.getenv("BENCH_APP_ID") or error("BENCH_APP_ID is not set")
local secret = os.getenv("BENCH_SECRET") or error("BENCH_SECRET is not set")
local tag = os.getenv("BENCH_TAG") or error("BENCH_TAG is not set")
local path = ({query = "/query/trade", notify = os.getenv("BENCH_NOTIFY_PATH")})[mode] or "/gopay"
local mac = sha.hmac(secret)
local format, time = string.format, os.time

-- main thread: keep the threads to read their counters in done()
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- per thread
counter = 0
tid = 0
failed = 0 -- notify: answers other than Alipay's "success"
exhausted = 0 -- notify: requests after this thread's share of notifications ran out
local trades, ntrades, pos = nil, 0, 0
local bodies, nbodies, step = nil, 0, 1
local rate = tonumber(os.getenv("BENCH_RATE") or "")
local gap_ms = nil
local headers = {
  ["Content-Type"] = "application/json",
  ["X-Paygate-App-Id"] = app_id,
}

function init(args)
  if mode == "query" then
    trades = {}
    for line in io.lines(os.getenv("BENCH_TRADES") or error("BENCH_TRADES is not set")) do
      if #line > 0 then trades[#trades + 1] = line end
    end
    ntrades = #trades
    if ntrades == 0 then error("BENCH_TRADES is empty") end
    pos = (tid * 7919) % ntrades -- threads start far apart
  elseif mode == "notify" then
    local n = tonumber(os.getenv("BENCH_NTHREADS") or error("BENCH_NTHREADS is not set"))
    bodies = {}
    local i = 0
    for line in io.lines(os.getenv("BENCH_BODIES") or error("BENCH_BODIES is not set")) do
      if #line > 0 then
        if i % n == tid - 1 then bodies[#bodies + 1] = line end
        i = i + 1
      end
    end
    nbodies = #bodies
    headers = {["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"}
  end
  if rate then
    -- each connection of this thread sends one request every gap_ms: all threads together
    -- send BENCH_RATE a second (connections = wrk's -c, spread evenly over the threads)
    local conns = tonumber(os.getenv("BENCH_CONNECTIONS") or error("BENCH_CONNECTIONS is not set"))
    gap_ms = conns * 1000 / rate
  end
end

if mode == "notify" then
  function response(status, headers, body)
    if status == 200 and body ~= "success" then failed = failed + 1 end
  end
end

if rate then -- defined only when pacing: wrk adds a timer per request once delay() exists
  function delay()
    return gap_ms * (0.5 + math.random()) -- jittered around the gap, so connections spread out
  end
end

request = function()
  counter = counter + 1
  local body
  if mode == "notify" then
    if counter > nbodies then
      exhausted = exhausted + 1
      return wrk.format("POST", "/notify/alipay/exhausted", headers, "")
    end
    return wrk.format("POST", path, headers, bodies[counter])
  elseif mode == "query" then
    pos = pos % ntrades + 1
    body = format('{"trade_no":"%s"}', trades[pos])
  else
    body = format('{"out_order_no":"B%s-%d-%d","pay_type":"alipay.page","amount":1999,'
      .. '"currency":"CNY","subject":"Order"}', tag, tid, counter)
  end
  local ts = tostring(time())
  local nonce = format("%s-%d-%08d", tag, tid, counter) -- >= 12 chars
  headers["X-Paygate-Timestamp"] = ts
  headers["X-Paygate-Nonce"] = nonce
  headers["X-Paygate-Signature"] = mac(format("POST\n%s\n%s\n%s\n%s\n", path, ts, nonce, body))
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local sent, failed_, exhausted_ = 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + (t:get("counter") or 0)
    failed_ = failed_ + (t:get("failed") or 0)
    exhausted_ = exhausted_ + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  local line = format(
    '{"mode":"%s","tag":"%s","requests":%d,"sent":%d,"seconds":%.3f,"rps":%.1f,'
      .. '"errors_reply":%d,"errors_exhausted":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,'
      .. '"lat_mean_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f}',
    mode, tag, summary.requests, sent, secs, summary.requests / secs, failed_, exhausted_,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000)
  local out = os.getenv("BENCH_OUT")
  if out then
    local f = assert(io.open(out, "w"))
    f:write(line, "\n")
    f:close()
  end
  io.write(line, "\n")
end
