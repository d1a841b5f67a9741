-- Segment helpers of the fault library that work on plain tables and on
-- the hook engine's FFI view alike: flags, lengths, copies, splitting,
-- resets, and per-connection state for policies.
local bit = require "bit"

local band, bor = bit.band, bit.bor
local type, tostring = type, tostring


-- An optional field: a cdata view without it raises on access, a table
-- gives nil.
local function index(seg, k) return seg[k] end
local function opt(seg, k)
  if type(seg) ~= "cdata" then return seg[k] end
  local ok, v = pcall(index, seg, k)
  if ok then return v end
  return nil
end
local FLAG_BITS = { F = 0x01, S = 0x02, R = 0x04, P = 0x08, ["."] = 0x10, U = 0x20, E = 0x40, W = 0x80 }
-- tcpdump's order (print-tcp.c): F S R P . U E W
local FLAG_ORDER = { { "F", 0x01 }, { "S", 0x02 }, { "R", 0x04 }, { "P", 0x08 }, { ".", 0x10 }, { "U", 0x20 },
  { "E", 0x40 }, { "W", 0x80 } }

-- Canonical flag strings -> bits, filled as they are met (at most 256).
local FLAG_MEMO = {}
local FLAG_STRINGS = {}

-- Flags as bits; accepts seg.bits (number), numeric seg.flags, or a
-- tcpdump-style string ("S", "S.", "P.", "F.", "R").
local function flag_bits(seg)
  local b = opt(seg, "bits")
  if type(b) == "number" then return b end
  local f = opt(seg, "flags")
  if type(f) == "number" then return f end
  if f == nil then return 0 end
  local v = FLAG_MEMO[f]
  if v then return v end
  local str = tostring(f)
  v = 0
  for i = 1, #str do v = bor(v, FLAG_BITS[str:sub(i, i)] or 0) end
  if type(f) == "string" and FLAG_STRINGS[v] == f then FLAG_MEMO[f] = v end
  return v
end

-- tcpdump's flag string for a bit mask ("S.", "P.", "." ...).
local function flag_string(bits)
  local t = {}
  for _, p in ipairs(FLAG_ORDER) do
    if band(bits, p[2]) ~= 0 then t[#t + 1] = p[1] end
  end
  local s = table.concat(t)
  return s == "" and "none" or s
end

for b = 0, 255 do FLAG_STRINGS[b] = flag_string(b) end

local function has_flag(seg, letters)
  local want = 0
  for i = 1, #letters do want = bor(want, FLAG_BITS[letters:sub(i, i)] or 0) end
  return band(flag_bits(seg), want) == want
end

local function payload_len(seg)
  local n = opt(seg, "len")
  if n ~= nil then return tonumber(n) end
  local p = opt(seg, "payload")
  return p and #p or 0
end

-- Segment sequence length: payload plus one each for SYN and FIN.
local function seq_len(seg)
  local b = flag_bits(seg)
  return payload_len(seg) + (band(b, 0x02) ~= 0 and 1 or 0) + (band(b, 0x01) ~= 0 and 1 or 0)
end

local function options_len(seg)
  local o = opt(seg, "options")
  if type(o) == "string" then return #o end
  local n = opt(seg, "optlen")
  return n and tonumber(n) or 0
end

-- The datagram size: seg.size if the view has it, else computed with the
-- fixed headers of its family (IPv4's 20 bytes, or IPv6's 40, RFC 8200 3).
local function wire_size(seg)
  local s = opt(seg, "size")
  if s ~= nil then return tonumber(s) end
  local src = opt(seg, "src")
  local six = opt(seg, "family") == 6 or (type(src) == "string" and src:find(":", 1, true) ~= nil)
  return (six and 60 or 40) + options_len(seg) + payload_len(seg)
end

-- Connection identity that both directions share.
local function tuple_key(seg)
  local a = tostring(seg.src) .. ":" .. tostring(seg.sport)
  local b = tostring(seg.dst) .. ":" .. tostring(seg.dport)
  if a < b then return a .. "-" .. b end
  return b .. "-" .. a
end

-- The fields a segment is made of; copy() reads exactly these, so it
-- copies an FFI view into a plain table too.
local FIELDS = { "src", "dst", "sport", "dport", "seq", "ack", "flags", "win", "urg", "len", "options", "payload" }

local function copy(seg, over)
  local t = {}
  for _, k in ipairs(FIELDS) do t[k] = opt(seg, k) end
  if type(t.flags) ~= "string" and t.flags ~= nil then t.flags = flag_string(flag_bits(seg)) end
  if over then for k, v in pairs(over) do t[k] = v end end
  return t
end

-- Split a segment into pieces of at most n payload bytes (sequence numbers
-- follow; FIN and PSH stay on the last piece, SYN on the first).
local function split(seg, n)
  local len = payload_len(seg)
  if len <= n then return { seg } end
  local bits = flag_bits(seg)
  local data = seg.payload and tostring(seg.payload)
  local pieces = {}
  local off = 0
  local seq0 = tonumber(seg.seq)
  local syn = band(bits, 0x02) ~= 0 and 1 or 0
  while off < len do
    local m = math.min(n, len - off)
    local last = off + m >= len
    local b = bits
    if off > 0 then b = band(b, bit.bnot(0x02)) end
    if not last then b = band(b, bit.bnot(0x09)) end
    local seq = (seq0 + off + (off > 0 and syn or 0)) % 4294967296
    pieces[#pieces + 1] = copy(seg, {
      seq = seq, len = m, flags = flag_string(b),
      payload = data and data:sub(off + 1, off + m) or nil,
    })
    off = off + m
  end
  return pieces
end

-- A reset standing in for a segment, travelling the same way.
local function rst_for(seg)
  return copy(seg, { flags = "R.", len = 0, payload = "", win = 0, options = "" })
end

-- A reset to the sender of seg, as from its peer: its sequence number is
-- what the sender acknowledged (its RCV.NXT), so the sender takes it (RFC
-- 9293 3.10.7.4, RFC 5961 3.2 exact match). nil for a segment without ACK.
local function rst_back(seg)
  if band(flag_bits(seg), 0x10) == 0 then return nil end
  return copy(seg, { src = opt(seg, "dst"), dst = opt(seg, "src"), sport = opt(seg, "dport"),
    dport = opt(seg, "sport"), seq = opt(seg, "ack"), ack = (tonumber(opt(seg, "seq")) + seq_len(seg)) % 4294967296,
    flags = "R.", len = 0, payload = "", win = 0, options = "" })
end


-- Per-connection state for a policy. A segment with addresses and ports
-- is keyed by its 4-tuple, both ways alike: the conn object a hook gets
-- is nil before accept and after the connection ends, so keying by it
-- would split one connection's state (a reset_after fired twice). A SYN
-- without ACK starts the tuple afresh (a new incarnation). Segments
-- without ports (plain tables) are keyed by conn object (weak keys).
local function per_conn()
  local objs = setmetatable({}, { __mode = "k" })
  local tuples, ntuples = {}, 0
  return function(seg, conn, dir)
    local t
    local sport = opt(seg, "sport")
    if sport == nil and conn ~= nil and (type(conn) == "table" or type(conn) == "userdata") then
      t = objs[conn]
      if not t then
        t = {}
        objs[conn] = t
      end
    else
      local k = tuple_key(seg)
      t = tuples[k]
      if t and sport ~= nil and band(flag_bits(seg), 0x12) == 0x02 and t.syn_seq ~= tonumber(opt(seg, "seq")) then
        t = nil -- a new connection on the same ports
      end
      if not t then
        -- Bounded: a flood of tuples cannot grow this without limit.
        if ntuples >= 65536 then tuples, ntuples = {}, 0 end
        t = {}
        if sport ~= nil and band(flag_bits(seg), 0x12) == 0x02 then t.syn_seq = tonumber(opt(seg, "seq")) end
        tuples[k] = t
        ntuples = ntuples + 1
      end
    end
    if dir then
      local d = t[dir]
      if not d then
        d = {}
        t[dir] = d
      end
      return d
    end
    return t
  end
end

return {
  opt = opt, flag_bits = flag_bits, flag_string = flag_string, has_flag = has_flag,
  payload_len = payload_len, seq_len = seq_len, wire_size = wire_size, copy = copy, split = split,
  rst_for = rst_for, rst_back = rst_back, per_conn = per_conn, FLAG_BITS = FLAG_BITS,
}
