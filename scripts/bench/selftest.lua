-- wrk -s selftest.lua http://127.0.0.1:1/  (BENCH_CASES=file): prints the HMAC-SHA256 of each
-- "key_hex msg_hex" line with the pure-Lua code in wrk's own LuaJIT, then exits before any
-- request is made. selftest.py compares the output with Python's hmac.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local sha = dofile(dir .. "sha256.lua")
local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end
local cases = os.getenv("BENCH_CASES") or error("BENCH_CASES is not set")
for line in io.lines(cases) do
  local k, m = line:match("^(%x*) (%x*)$")
  io.write(sha.hmac_sha256_hex(unhex(k), unhex(m)), "\n")
end
io.stdout:flush()
os.exit(0)
