-- Lua-side IPv4/ICMP packet crafting for specs: build headers (valid or
-- deliberately broken), fragment datagrams, parse what a stack sent, and
-- move datagrams in and out of the sim. Strings hold the bytes.
local bit = require "bit"
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local band, bor, rshift, lshift = bit.band, bit.bor, bit.rshift, bit.lshift

local M = {}

local function u16(v) return string.char(band(rshift(v, 8), 0xff), band(v, 0xff)) end
local function u32(v)
  v = tonumber(v)
  return string.char(math.floor(v / 16777216) % 256, math.floor(v / 65536) % 256, math.floor(v / 256) % 256, v % 256)
end
local function get16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end
local function get32(s, i) return ((s:byte(i) * 256 + s:byte(i + 1)) * 256 + s:byte(i + 2)) * 256 + s:byte(i + 3) end
M.u16, M.u32, M.get16, M.get32 = u16, u32, get16, get32

local function addr(a) return type(a) == "string" and assert(core.ip(a)) or a end
M.addr = addr

-- RFC 1071 checksum in plain Lua, byte at a time: the reference the C
-- version is checked against.
function M.csum(s)
  local sum = 0
  for i = 1, #s - 1, 2 do sum = sum + s:byte(i) * 256 + s:byte(i + 1) end
  if #s % 2 == 1 then sum = sum + s:byte(#s) * 256 end
  while sum > 0xffff do sum = band(sum, 0xffff) + rshift(sum, 16) end
  return band(bit.bnot(sum), 0xffff)
end

local function put_csum(s, at, c) return s:sub(1, at - 1) .. u16(c) .. s:sub(at + 2) end

-- An IPv4 header. Fields (all optional): src, dst, proto, id, ttl, tos, df,
-- mf, off (bytes, multiple of 8), payload_len, total_len (overrides),
-- options (string, padded to 4), version, ihl (overrides), checksum
-- (number: write it as is; default: the correct one).
function M.header(f)
  local options = f.options or ""
  if #options % 4 ~= 0 then options = options .. string.rep("\0", 4 - #options % 4) end
  local hl = 20 + #options
  local ihl = f.ihl or hl / 4
  local total = f.total_len or (hl + (f.payload_len or 0))
  local flags = bor(f.df and 0x4000 or 0, f.mf and 0x2000 or 0, rshift(f.off or 0, 3))
  local h = string.char(lshift(f.version or 4, 4) + ihl, f.tos or 0) .. u16(total) .. u16(f.id or 0x1234) ..
      u16(flags) .. string.char(f.ttl or 64, f.proto or 1) .. "\0\0" .. u32(addr(f.src or "10.77.0.1")) ..
      u32(addr(f.dst or "10.77.0.2")) .. options
  return put_csum(h, 11, f.checksum or M.csum(h))
end

-- A whole datagram: header fields f plus the payload string.
function M.datagram(f, payload)
  local g = {}
  for k, v in pairs(f or {}) do g[k] = v end
  g.payload_len = #payload
  return M.header(g) .. payload
end

-- ICMP message: type, code, rest (4 bytes: id/seq for echo), data.
function M.icmp(t, code, rest, data)
  local m = string.char(t, code or 0) .. "\0\0" .. (rest or "\0\0\0\0") .. (data or "")
  return put_csum(m, 3, M.csum(m))
end

function M.echo_request(id, seq, data) return M.icmp(8, 0, u16(id) .. u16(seq), data) end

-- Fragments of the datagram (header fields f, payload string) carrying at
-- most `chunk` payload bytes each (rounded down to a multiple of 8).
function M.fragment(f, payload, chunk)
  chunk = chunk - chunk % 8
  local out = {}
  local off = 0
  repeat
    local piece = payload:sub(off + 1, off + chunk)
    local g = {}
    for k, v in pairs(f or {}) do g[k] = v end
    g.off, g.mf = off, off + #piece < #payload
    out[#out + 1] = M.datagram(g, piece)
    off = off + #piece
  until off >= #payload
  return out
end

-- Parse a datagram into a table (no validation beyond what reading needs).
function M.parse(s)
  local p = {}
  p.version = rshift(s:byte(1), 4)
  p.hl = band(s:byte(1), 15) * 4
  p.tos = s:byte(2)
  p.total_len = get16(s, 3)
  p.id = get16(s, 5)
  local fo = get16(s, 7)
  p.df = band(fo, 0x4000) ~= 0
  p.mf = band(fo, 0x2000) ~= 0
  p.off = band(fo, 0x1fff) * 8
  p.ttl = s:byte(9)
  p.proto = s:byte(10)
  p.checksum = get16(s, 11)
  p.src = get32(s, 13)
  p.dst = get32(s, 17)
  p.payload = s:sub(p.hl + 1, p.total_len)
  p.header_ok = M.csum(s:sub(1, p.hl)) == 0
  return p
end

function M.parse_icmp(m)
  return { type = m:byte(1), code = m:byte(2), checksum_ok = M.csum(m) == 0, rest = m:sub(5, 8),
    id = get16(m, 5), seq = get16(m, 7), data = m:sub(9) }
end

-- Reassemble parsed fragments (any order) in Lua: the payload string, or
-- nil if something is missing.
function M.reassemble(frags)
  table.sort(frags, function(a, b) return a.off < b.off end)
  local parts, at = {}, 0
  for _, f in ipairs(frags) do
    if f.off ~= at then return nil end
    parts[#parts + 1] = f.payload
    at = at + #f.payload
  end
  if frags[#frags].mf then return nil end
  return table.concat(parts)
end

-- sim helpers
local rxbuf = ffi.new("uint8_t[65536]")
function M.send(sim, ep, s) C.tl_sim_send(sim, ep, s, #s) end
function M.recv(sim, ep)
  local n = tonumber(C.tl_sim_recv_raw(sim, ep, rxbuf, 65536))
  if n == 0 then return nil end
  return ffi.string(rxbuf, n)
end
function M.recv_all(sim, ep)
  local t = {}
  for s in function() return M.recv(sim, ep) end do t[#t + 1] = s end
  return t
end

-- Random bytes from a seeded generator (math.random is seeded by the spec).
function M.random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

return M
