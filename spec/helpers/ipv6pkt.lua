-- Lua-side IPv6/ICMPv6 packet crafting for specs: fixed headers,
-- extension headers (valid or deliberately broken), fragments, and a
-- parse of what a stack sent. Strings hold the bytes; addresses are
-- written as text ("fd77::2") and become 16-byte strings.
local bit = require "bit"
local P4 = require "helpers.ipv4pkt"
local band, bor, rshift, lshift = bit.band, bit.bor, bit.rshift, bit.lshift
local u16, u32, get16, get32 = P4.u16, P4.u32, P4.get16, P4.get32

local M = { u16 = u16, u32 = u32, get16 = get16, get32 = get32 }
M.NH = { HOP = 0, TCP = 6, UDP = 17, ROUTING = 43, FRAG = 44, ICMP6 = 58, NONE = 59, DST = 60 }

-- "fd77::2" -> 16 bytes. Only what specs write: hex groups and one "::".
function M.a6(s)
  if #s == 16 and not s:find(":") then return s end
  local head, tail = s:match("^(.-)::(.*)$")
  local function groups(x)
    local t = {}
    for g in x:gmatch("[^:]+") do t[#t + 1] = tonumber(g, 16) end
    return t
  end
  local h, t
  if head then h, t = groups(head), groups(tail) else h, t = groups(s), {} end
  local all = {}
  for _, g in ipairs(h) do all[#all + 1] = g end
  for _ = 1, 8 - #h - #t do all[#all + 1] = 0 end
  for _, g in ipairs(t) do all[#all + 1] = g end
  assert(#all == 8, "bad IPv6 address " .. s)
  local out = {}
  for i, g in ipairs(all) do out[i] = u16(g) end
  return table.concat(out)
end

function M.str6(a)
  local t = {}
  for i = 1, 16, 2 do t[#t + 1] = ("%x"):format(get16(a, i)) end
  return table.concat(t, ":")
end

M.US, M.PEER = M.a6("fd77::2"), M.a6("fd77::1")

-- The 40-byte fixed header. f: src, dst, next, hlim, tclass, flow,
-- version, plen (default: payload_len).
function M.header(f)
  local w0 = bor(lshift(f.version or 6, 28), lshift(f.tclass or 0, 20), f.flow or 0)
  return u32(w0 % 4294967296) .. u16(f.plen or f.payload_len or 0) .. string.char(f.next or 59, f.hlim or 64) ..
      M.a6(f.src or "fd77::1") .. M.a6(f.dst or "fd77::2")
end

function M.datagram(f, payload)
  local g = {}
  for k, v in pairs(f or {}) do g[k] = v end
  g.payload_len = #payload
  return M.header(g) .. payload
end

-- Options header body padded to a multiple of 8 with PadN (or Pad1).
function M.opts(nh, options)
  options = options or ""
  local n = 2 + #options
  local pad = (8 - n % 8) % 8
  if pad == 1 then options = options .. "\0"
  elseif pad > 1 then options = options .. string.char(1, pad - 2) .. string.rep("\0", pad - 2) end
  local body = options
  return string.char(nh, (2 + #body) / 8 - 1) .. body
end

function M.routing(nh, rtype, segleft, naddrs)
  naddrs = naddrs or 1
  local body = string.char(rtype, segleft) .. "\0\0\0\0" .. string.rep(M.a6("fd77::9"), naddrs)
  return string.char(nh, (2 + #body) / 8 - 1) .. body
end

function M.frag(nh, off, more, id)
  return string.char(nh, 0) .. u16(bor(off, more and 1 or 0)) .. u32(id or 0x1234)
end

-- RFC 1071 over the pseudo-header (RFC 8200 8.1) and the message.
function M.csum6(src, dst, proto, msg)
  return P4.csum(M.a6(src) .. M.a6(dst) .. u32(#msg) .. "\0\0\0" .. string.char(proto) .. msg)
end

function M.icmp6(t, code, rest, data, src, dst)
  local m = string.char(t, code or 0) .. "\0\0" .. (rest or "\0\0\0\0") .. (data or "")
  local c = M.csum6(src or "fd77::1", dst or "fd77::2", 58, m)
  return m:sub(1, 2) .. u16(c) .. m:sub(5)
end

function M.echo_request(id, seq, data, src, dst) return M.icmp6(128, 0, u16(id) .. u16(seq), data, src, dst) end

-- Fragments of an upper-layer payload (`nh` names it): each carries the
-- fixed header f, the unfragmentable headers `unfrag` (a chain whose first
-- Next Header is f.next and whose last names 44), a fragment header and
-- at most `chunk` bytes (rounded down to a multiple of 8).
function M.fragment(f, nh, payload, chunk, id, unfrag)
  chunk = chunk - chunk % 8
  unfrag = unfrag or ""
  local out, off = {}, 0
  repeat
    local piece = payload:sub(off + 1, off + chunk)
    local g = {}
    for k, v in pairs(f or {}) do g[k] = v end
    if unfrag == "" then g.next = 44 end
    out[#out + 1] = M.datagram(g, unfrag .. M.frag(nh, off, off + #piece < #payload, id) .. piece)
    off = off + #piece
  until off >= #payload
  return out
end

-- Parse a datagram: fixed header, then the walk over the extension
-- headers (hop, dst, routing, fragment).
function M.parse(s)
  local p = { version = rshift(s:byte(1), 4), plen = get16(s, 5), next = s:byte(7), hlim = s:byte(8),
    src = s:sub(9, 24), dst = s:sub(25, 40) }
  p.tclass = band(rshift(get32(s, 1), 20), 0xff)
  p.flow = get32(s, 1) % 1048576
  local nh, at = p.next, 41
  while nh == 0 or nh == 43 or nh == 60 or nh == 44 do
    if nh == 44 then
      local fo = get16(s, at + 2)
      p.frag = { off = fo - fo % 8, more = fo % 2 == 1, id = get32(s, at + 4) }
      nh, at = s:byte(at), at + 8
    else
      nh, at = s:byte(at), at + (s:byte(at + 1) + 1) * 8
    end
  end
  p.proto, p.payload = nh, s:sub(at, 40 + p.plen)
  return p
end

function M.parse_icmp(m, src, dst)
  return { type = m:byte(1), code = m:byte(2), checksum_ok = src == nil or M.csum6(src, dst, 58, m) == 0,
    rest = m:sub(5, 8), ptr = get32(m, 5), mtu = get32(m, 5), id = get16(m, 5), seq = get16(m, 7), data = m:sub(9) }
end

-- Reassemble parsed fragments (any order) in Lua: the payload, or nil.
function M.reassemble(frags)
  table.sort(frags, function(a, b) return a.frag.off < b.frag.off end)
  local parts, at = {}, 0
  for _, f in ipairs(frags) do
    if f.frag.off ~= at then return nil end
    parts[#parts + 1] = f.payload
    at = at + #f.payload
  end
  if frags[#frags].frag.more then return nil end
  return table.concat(parts)
end

M.send, M.recv, M.recv_all, M.random_bytes = P4.send, P4.recv, P4.recv_all, P4.random_bytes
return M
