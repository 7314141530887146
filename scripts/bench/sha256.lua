-- Pure-Lua SHA-256 and HMAC-SHA256 for wrk's LuaJIT (uses LuaJIT's `bit` module).
-- Checked against Python's hmac/hashlib by scripts/bench/selftest.py (make bench runs it).
--   local sha = dofile(dir .. "sha256.lua")
--   local h = sha.hmac_sha256_hex(secret, message)     -- one-shot
--   local mac = sha.hmac(secret); mac(message)           -- key pads precomputed, reused
local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit, tohex = bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex
local byte, char, rep, sub, concat = string.byte, string.char, string.rep, string.sub, table.concat
local floor = math.floor

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
for i = 1, 64 do K[i] = tobit(K[i]) end
local H0 = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
for i = 1, 8 do H0[i] = tobit(H0[i]) end

local W = {}

-- Compress the 64-byte block of `s` starting at byte `off + 1` into state `H` (8 int32).
local function compress(H, s, off)
  for j = 0, 15 do
    local p = off + j * 4
    local b1, b2, b3, b4 = byte(s, p + 1, p + 4)
    W[j] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
  end
  for j = 16, 63 do
    local w15, w2 = W[j - 15], W[j - 2]
    local s0 = bxor(ror(w15, 7), ror(w15, 18), rshift(w15, 3))
    local s1 = bxor(ror(w2, 17), ror(w2, 19), rshift(w2, 10))
    W[j] = tobit(W[j - 16] + s0 + W[j - 7] + s1)
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for j = 0, 63 do
    local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = h + S1 + ch + K[j + 1] + W[j]
    local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    h, g, f, e, d, c, b = g, f, e, tobit(d + t1), c, b, a
    a = tobit(t1 + S0 + maj)
  end
  H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
  H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
end

-- Finish a hash whose state `init` already absorbed `prefix_len` bytes (a multiple of 64).
local function finish(init, prefix_len, msg)
  local H = { init[1], init[2], init[3], init[4], init[5], init[6], init[7], init[8] }
  local n = #msg
  local bits = (prefix_len + n) * 8
  local pad = 64 - ((n + 9) % 64)
  if pad == 64 then pad = 0 end
  local hi = floor(bits / 4294967296)
  local tail = char(0x80) .. rep("\0", pad)
    .. char(band(rshift(hi, 24), 255), band(rshift(hi, 16), 255), band(rshift(hi, 8), 255), band(hi, 255))
    .. char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))
  local s = msg .. tail
  for off = 0, #s - 64, 64 do compress(H, s, off) end
  return H
end

local function to_hex(H)
  local out = {}
  for i = 1, 8 do out[i] = tohex(H[i], 8) end
  return concat(out)
end

local function to_bytes(H)
  local out = {}
  for i = 1, 8 do
    local x = H[i]
    out[i] = char(band(rshift(x, 24), 255), band(rshift(x, 16), 255), band(rshift(x, 8), 255), band(x, 255))
  end
  return concat(out)
end

local M = {}

function M.sha256_hex(msg) return to_hex(finish(H0, 0, msg)) end
function M.sha256(msg) return to_bytes(finish(H0, 0, msg)) end

-- Returns mac(message) -> lowercase hex HMAC-SHA256, with the keyed pads absorbed once.
function M.hmac(key)
  if #key > 64 then key = M.sha256(key) end
  key = key .. rep("\0", 64 - #key)
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local k = byte(key, i)
    ipad[i] = char(bxor(k, 0x36))
    opad[i] = char(bxor(k, 0x5c))
  end
  local inner = { unpack(H0) }
  local outer = { unpack(H0) }
  compress(inner, concat(ipad), 0)
  compress(outer, concat(opad), 0)
  return function(msg)
    return to_hex(finish(outer, 64, to_bytes(finish(inner, 64, msg))))
  end
end

function M.hmac_sha256_hex(key, msg) return M.hmac(key)(msg) end

return M
