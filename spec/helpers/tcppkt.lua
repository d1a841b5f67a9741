-- Packet crafting for scripted TCP peers (packetdrill-style specs).
--
--   local pkt = require "helpers.tcppkt"
--   local bytes = pkt.build{ src = "10.0.0.1", dst = "10.0.0.2", sport = 4000, dport = 7,
--                            seq = 100, flags = "S", mss = 1460, wscale = 7, sackok = true,
--                            ts = { 1, 0 } }
--   local seg = pkt.parse(bytes)   -- { flags = "S", mss = 1460, data = "", ... }
--
-- Headers and options are written here in Lua, independently of the C codec
-- (core/wire/tcp_wire.c), so specs that round-trip through the C code check one
-- implementation against the other. Checksums use C.tl_csum (RFC 1071).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

local FLAG_BITS = { F = 0x01, S = 0x02, R = 0x04, P = 0x08, ["."] = 0x10, U = 0x20, E = 0x40, W = 0x80 }
local FLAG_ORDER = { { 0x01, "F" }, { 0x02, "S" }, { 0x04, "R" }, { 0x08, "P" }, { 0x10, "." }, { 0x20, "U" },
  { 0x40, "E" }, { 0x80, "W" } }

-- "S." -> 0x12; numbers pass through.
function M.flagbits(f)
  if type(f) == "number" then return f end
  if f == nil or f == "" or f == "none" then return 0 end
  local b = 0
  for c in f:gmatch(".") do
    local v = assert(FLAG_BITS[c], "tcppkt: unknown flag '" .. c .. "' in " .. f)
    if b % (2 * v) < v then b = b + v end
  end
  return b
end

-- 0x12 -> "S." (tcpdump order: F S R P . U E W; "none" for no flags)
function M.flagstr(b)
  local t = {}
  for _, fv in ipairs(FLAG_ORDER) do
    if b % (2 * fv[1]) >= fv[1] then t[#t + 1] = fv[2] end
  end
  return #t > 0 and table.concat(t) or "none"
end

local function be16(v)
  v = v % 65536
  return string.char(math.floor(v / 256), v % 256)
end

local function be32(v)
  v = v % 4294967296
  return string.char(math.floor(v / 16777216) % 256, math.floor(v / 65536) % 256, math.floor(v / 256) % 256, v % 256)
end

local function rd16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end
local function rd32(s, i) return ((s:byte(i) * 256 + s:byte(i + 1)) * 256 + s:byte(i + 2)) * 256 + s:byte(i + 3) end

local function addr(a) return assert(core.ip(a)) end

-- Internet checksum of a Lua string (host-order result, ready for be16).
function M.csum(s) return C.tl_csum(s, #s) end

local NOP = "\1"

-- Options in Linux's layout (see tl_tcp_build): MSS, SACK-permitted folded
-- into the TS NOP pair, TS, SACK-permitted alone, WS, SACK blocks. t.opts
-- (raw bytes) is appended last, for unknown or malformed options; the total
-- is padded to 4 bytes with EOL (zero) bytes.
local function options(t)
  local o = {}
  if t.mss then o[#o + 1] = "\2\4" .. be16(t.mss) end
  local sackok = t.sackok
  if t.ts then
    if sackok then
      o[#o + 1] = "\4\2"; sackok = false
    else
      o[#o + 1] = NOP .. NOP
    end
    o[#o + 1] = "\8\10" .. be32(t.ts[1] or t.ts.val or 0) .. be32(t.ts[2] or t.ts.ecr or 0)
  end
  if sackok then o[#o + 1] = NOP .. NOP .. "\4\2" end
  if t.wscale then o[#o + 1] = NOP .. "\3\3" .. string.char(t.wscale) end
  if t.sack and #t.sack > 0 then
    o[#o + 1] = NOP .. NOP .. "\5" .. string.char(2 + 8 * #t.sack)
    for _, b in ipairs(t.sack) do o[#o + 1] = be32(b[1]) .. be32(b[2]) end
  end
  if t.opts then o[#o + 1] = t.opts end
  local s = table.concat(o)
  if #s % 4 ~= 0 then s = s .. string.rep("\0", 4 - #s % 4) end
  assert(#s <= 40, "tcppkt: options longer than 40 bytes")
  return s
end

local function pseudo(src, dst, len)
  return be32(src) .. be32(dst) .. "\0\6" .. be16(len)
end

-- The TCP segment alone (header + options + data), checksummed for src/dst.
function M.segment(t)
  local src, dst = addr(t.src or "10.0.0.1"), addr(t.dst or "10.0.0.2")
  local opt = options(t)
  local data = t.data or ""
  local hlen = 20 + #opt
  local flags = M.flagbits(t.flags or ".")
  local hdr = be16(t.sport or 0) .. be16(t.dport or 0) .. be32(t.seq or 0) .. be32(t.ack or 0)
    .. string.char((t.off or hlen / 4) * 16, flags) .. be16(t.win or 65535)
  local tail = be16(t.urg or 0) .. opt .. data
  local sum = M.csum(pseudo(src, dst, hlen + #data) .. hdr .. "\0\0" .. tail)
  if t.bad_csum then sum = (sum + 1) % 65536 end
  if t.csum then sum = t.csum end
  return hdr .. be16(sum) .. tail
end

-- A full IPv4 datagram (20-byte header, RFC 791 3.1) carrying the segment.
function M.build(t)
  local src, dst = addr(t.src or "10.0.0.1"), addr(t.dst or "10.0.0.2")
  local seg = M.segment(t)
  local total = 20 + #seg
  local df = (t.df == false) and 0 or 0x4000
  local h = "\69" .. string.char(t.tos or 0) .. be16(total) .. be16(t.id or 0) .. be16(df)
    .. string.char(t.ttl or 64, t.proto or 6)
  local tail = be32(src) .. be32(dst)
  local sum = M.csum(h .. "\0\0" .. tail)
  if t.bad_ip_csum then sum = (sum + 1) % 65536 end
  return h .. be16(sum) .. tail .. seg
end

-- Decode an options area into fields of t (mss, wscale, sackok, ts, sack,
-- unknown = { kinds... }). Returns nil, reason for a malformed area.
local function parse_opts(s, t)
  local i = 1
  while i <= #s do
    local kind = s:byte(i)
    if kind == 0 then break end
    if kind == 1 then
      i = i + 1
    else
      if i + 1 > #s then return nil, "option runs past the header" end
      local len = s:byte(i + 1)
      if len < 2 or i + len - 1 > #s then return nil, "bad option length" end
      local d = i + 2
      if kind == 2 and len == 4 then
        t.mss = rd16(s, d)
      elseif kind == 3 and len == 3 then
        t.wscale = s:byte(d)
      elseif kind == 4 and len == 2 then
        t.sackok = true
      elseif kind == 5 and len >= 10 and (len - 2) % 8 == 0 then
        t.sack = {}
        for k = 0, (len - 2) / 8 - 1 do t.sack[#t.sack + 1] = { rd32(s, d + 8 * k), rd32(s, d + 8 * k + 4) } end
      elseif kind == 8 and len == 10 then
        t.ts = { rd32(s, d), rd32(s, d + 4) }
      else
        t.unknown = t.unknown or {}
        t.unknown[#t.unknown + 1] = kind
      end
      i = i + len
    end
  end
  return t
end

-- Parse an IPv4 datagram carrying TCP (a Lua string, or cdata + len) into a
-- table shaped like build's input, plus hdrlen, ip_csum_ok, csum_ok and
-- flagbits. Returns nil, reason for something that is not IPv4/TCP.
function M.parse(p, len)
  if type(p) ~= "string" then p = ffi.string(p, len) end
  if #p < 20 then return nil, "short IPv4 header" end
  local vihl = p:byte(1)
  if math.floor(vihl / 16) ~= 4 then return nil, "not IPv4" end
  local ihl = (vihl % 16) * 4
  local total = rd16(p, 3)
  if ihl < 20 or total < ihl or total > #p then return nil, "bad IPv4 lengths" end
  p = p:sub(1, total)
  local t = {
    tos = p:byte(2), id = rd16(p, 5), ttl = p:byte(9), proto = p:byte(10),
    df = math.floor(rd16(p, 7) / 0x4000) % 2 == 1,
    src = core.ipstr(rd32(p, 13)), dst = core.ipstr(rd32(p, 17)),
    ip_csum_ok = M.csum(p:sub(1, ihl)) == 0,
  }
  if t.proto ~= 6 then return nil, "not TCP (protocol " .. t.proto .. ")" end
  local seg = p:sub(ihl + 1)
  if #seg < 20 then return nil, "short TCP header" end
  local hlen = math.floor(seg:byte(13) / 16) * 4
  if hlen < 20 or hlen > #seg then return nil, "bad TCP data offset" end
  t.sport, t.dport = rd16(seg, 1), rd16(seg, 3)
  t.seq, t.ack = rd32(seg, 5), rd32(seg, 9)
  t.hdrlen = hlen
  t.flagbits = seg:byte(14)
  t.flags = M.flagstr(t.flagbits)
  t.win, t.csum, t.urg = rd16(seg, 15), rd16(seg, 17), rd16(seg, 19)
  t.data = seg:sub(hlen + 1)
  t.csum_ok = M.csum(pseudo(rd32(p, 13), rd32(p, 17), #seg) .. seg) == 0
  local ok, err = parse_opts(seg:sub(21, hlen), t)
  if not ok then return nil, err end
  return t
end

-- A one-line tcpdump-like description, for failure messages and traces.
function M.describe(t)
  local s = string.format("%s.%d > %s.%d: Flags [%s], seq %d", t.src, t.sport, t.dst, t.dport, t.flags, t.seq)
  if t.flagbits and t.flagbits % 32 >= 16 then s = s .. ", ack " .. t.ack end
  s = s .. ", win " .. t.win
  local o = {}
  if t.mss then o[#o + 1] = "mss " .. t.mss end
  if t.sackok then o[#o + 1] = "sackOK" end
  if t.ts then o[#o + 1] = string.format("TS val %d ecr %d", t.ts[1], t.ts[2]) end
  if t.wscale then o[#o + 1] = "wscale " .. t.wscale end
  if t.sack then
    for _, b in ipairs(t.sack) do o[#o + 1] = string.format("sack %d:%d", b[1], b[2]) end
  end
  if #o > 0 then s = s .. ", options [" .. table.concat(o, ",") .. "]" end
  return s .. ", length " .. #(t.data or "")
end

-- A scripted peer: one stack on a sim link plus a raw endpoint that the
-- spec drives packet by packet, packetdrill-style.
--
--   local p = pkt.peer{ seed = 1 }          -- stack 10.0.0.2, peer 10.0.0.1
--   p:send{ sport = 4000, dport = 7, seq = 1, flags = "S", mss = 1460 }
--   local r = p:expect(10000)              -- parsed reply within 10 ms, or nil
--
-- send fills src/dst when absent. expect pops socket events (the sim stops
-- its clock while any are pending) and keeps them: p:events(sock) returns
-- the union of the masks seen for sock.
local Peer = {}
Peer.__index = Peer

function M.peer(opts)
  opts = opts or {}
  local self = setmetatable({}, Peer)
  self.addr = opts.addr or "10.0.0.2"
  self.peer_addr = opts.peer or "10.0.0.1"
  self.sim = ffi.gc(C.tl_sim_new(opts.seed or 1, opts.latency_us or 100), C.tl_sim_free)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  cfg.addr, cfg.host, cfg.seed = addr(self.addr), addr(self.peer_addr), opts.seed or 1
  if opts.config then opts.config(cfg) end
  self.ep = C.tl_sim_add_stack(self.sim, cfg)
  assert(self.ep >= 0, "tcppkt: cannot add a stack to the sim")
  self.st = C.tl_sim_stack(self.sim, self.ep)
  self.raw = C.tl_sim_add_raw(self.sim, addr(self.peer_addr))
  assert(self.raw >= 0, "tcppkt: cannot add a raw endpoint")
  self.buf = ffi.new("uint8_t[65536]")
  self.ev = ffi.new("tl_event")
  return self
end

function Peer:now() return tonumber(C.tl_sim_now(self.sim)) end

-- A listener on the stack; fails the spec with the engine's reason.
function Peer:listen(port, backlog)
  local err = ffi.new("int[1]")
  local l = C.tl_listen(self.st, port, backlog or 16, err)
  assert(l ~= nil, "tl_listen failed: " .. core.strerror(err[0]))
  return l
end

-- A socket's state name and its tl_tcp_info.
-- A peer-initiated handshake to listener l (RFC 9293 3.5): SYN with the
-- fields of `syn` (sport, dport, seq = the peer's ISS, options; flags "S"
-- and win 65535 unless given), the SYN-ACK, the final ACK (with a
-- timestamp if both SYNs had one, RFC 7323 3.2). Returns the accepted
-- socket and the parsed SYN-ACK; fails the spec at the step that does not
-- happen.
function Peer:handshake(l, syn)
  local t = { flags = "S", win = 65535 }
  for k, v in pairs(syn) do t[k] = v end
  self:send(t)
  local sa = assert(self:expect(100000), "no SYN-ACK")
  assert(sa.flags == "S.", "expected a SYN-ACK, got " .. M.describe(sa))
  local ts = t.ts and sa.ts and { t.ts[1] + 1, sa.ts[1] } or nil
  self:send { sport = t.sport, dport = t.dport, seq = t.seq + 1, ack = sa.seq + 1, flags = ".", win = t.win, ts = ts }
  self:collect(1000)
  local s = C.tl_accept(l)
  assert(s ~= nil, "nothing to accept")
  return s, sa
end

-- A new peer and stack with a connection the peer opened to `port` from
-- `sport`, for packetdrill-style scripts: returns c with c.p (the peer),
-- c.l (the listener), c.s (the accepted socket), c.iss (the stack's ISS),
-- c.seq / c.ack (what the peer sends next) and c.send(t), which fills
-- ports, seq, ack, flags "." and the window into segment t. syn adds to
-- or replaces fields of the SYN (win 65535, mss 1000 unless given).
function M.connected(seed, port, iss, sport, syn)
  local p = M.peer { seed = seed }
  local l = p:listen(port, 16)
  local t = { sport = sport, dport = port, seq = iss, flags = "S", win = 65535, mss = 1000 }
  for k, v in pairs(syn or {}) do t[k] = v end
  p:send(t)
  local sa = assert(p:expect(100000), "no SYN-ACK")
  assert(sa.flags == "S.", "expected a SYN-ACK, got " .. M.describe(sa))
  local c = { p = p, l = l, sport = sport, seq = iss + 1, ack = sa.seq + 1, iss = sa.seq, win = t.win }
  function c.send(seg)
    seg.sport, seg.dport = sport, port
    seg.seq = seg.seq or c.seq
    seg.ack = seg.ack or c.ack
    seg.flags = seg.flags or "."
    seg.win = seg.win or c.win
    return p:send(seg)
  end
  c.send {}
  p:collect(10000)
  c.s = C.tl_accept(l)
  assert(c.s ~= nil, "nothing to accept after the handshake")
  return c
end

function M.state(s) return ffi.string(C.tl_state_name(C.tl_sock_state(s))) end

function M.info(s)
  local i = ffi.new("tl_tcp_info")
  assert(C.tl_sock_info(s, i) == 0, "tl_sock_info failed")
  return i
end

function Peer:stats() return core.stats(self.st) end

-- Send a segment from the peer (table as for build, or raw bytes).
function Peer:send(t)
  local bytes = t
  if type(t) == "table" then
    t.src = t.src or self.peer_addr
    t.dst = t.dst or self.addr
    bytes = M.build(t)
  end
  C.tl_sim_send(self.sim, self.raw, bytes, #bytes)
  return bytes
end

-- The next datagram the stack sends to the peer within `within_us` of
-- virtual time, parsed (with .raw = the bytes); nil if none arrives.
function Peer:expect(within_us)
  local deadline = self:now() + (within_us or 1000000)
  for _ = 1, 100000 do
    local n = tonumber(C.tl_sim_recv_raw(self.sim, self.raw, self.buf, 65536))
    if n > 0 then
      local bytes = ffi.string(self.buf, math.min(n, 65536))
      local p, err = M.parse(bytes)
      if not p then return { raw = bytes, error = err } end
      p.raw = bytes
      return p
    end
    if self:now() >= deadline then return nil end
    local early = C.tl_sim_run(self.sim, deadline)
    if early == 1 then
      -- socket events stopped the clock: keep them for :events() and
      -- move on
      self:drain_events()
    end
  end
  error("tcppkt: expect did not settle (events keep arriving)")
end

-- Pop the stack's pending socket events into self.pending_events.
function Peer:drain_events()
  self.pending_events = self.pending_events or {}
  for _ = 1, 1000 do
    if C.tl_next_event(self.st, self.ev) == 0 then break end
    self.pending_events[#self.pending_events + 1] = { sock = self.ev.sock, mask = self.ev.mask }
  end
end

-- The union of the event masks seen for socket s (all sockets if nil)
-- since the last call; consumes them.
function Peer:events(s)
  self:drain_events()
  local mask, keep = 0, {}
  for _, e in ipairs(self.pending_events) do
    if s == nil or e.sock == s then mask = bit.bor(mask, e.mask) else keep[#keep + 1] = e end
  end
  self.pending_events = keep
  return mask
end

-- Let virtual time pass, collecting whatever the stack sends.
function Peer:collect(for_us)
  local got, deadline = {}, self:now() + for_us
  while true do
    local p = self:expect(deadline - self:now())
    if not p then break end
    got[#got + 1] = p
  end
  return got
end

return M
