-- wrk script for paygate's internal API: every request is signed in Lua (HMAC-SHA256,
-- sha256.lua) with a fresh timestamp and a unique nonce.
--   BENCH_MODE    gopay | query
--   BENCH_APP_ID  the app id; BENCH_SECRET its HMAC secret
--   BENCH_TAG     unique per wrk run ([A-Za-z0-9], 4-20 chars): prefixes nonces and out_order_no
--   BENCH_TRADES  (query) a file of trade_no, one a line, cycled through by the threads
--   BENCH_OUT     where done() writes one JSON line of wrk's counts and latencies
-- gopay bodies: {"out_order_no":"B<tag>-<thread>-<n>","pay_type":"alipay.page",...}
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local sha = dofile(dir .. "sha256.lua")

local mode = os.getenv("BENCH_MODE") or "gopay"
local app_id = os.getenv("BENCH_APP_ID") or error("BENCH_APP_ID is not set")
local secret = os.getenv("BENCH_SECRET") or error("BENCH_SECRET is not set")
local tag = os.getenv("BENCH_TAG") or error("BENCH_TAG is not set")
local path = mode == "query" and "/query/trade" or "/gopay"
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
local trades, ntrades, pos = nil, 0, 0
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
  end
end

request = function()
  counter = counter + 1
  local body
  if mode == "query" then
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
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + (t:get("counter") or 0) end
  local e = summary.errors
  local secs = summary.duration / 1e6
  local line = format(
    '{"mode":"%s","tag":"%s","requests":%d,"sent":%d,"seconds":%.3f,"rps":%.1f,'
      .. '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,'
      .. '"lat_mean_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f}',
    mode, tag, summary.requests, sent, secs, summary.requests / secs,
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
