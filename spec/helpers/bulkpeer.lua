-- A scripted bulk receiver for congestion-control specs: the stack under
-- test sends as fast as its window allows to a tcppkt peer that keeps an
-- exact receive model (cumulative point + SACK ranges), drops the segments
-- a test asks it to, and ACKs once per `ack_every` segments as they arrive.
-- Sequence numbers are offsets from the stack's first data byte, so
-- wrap-around never shows in a test.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local M = {}
local B = {}
B.__index = B

local PORT, SPORT, ISS = 80, 40000, 7000
local CHUNK = string.rep("c", 65536)
local U32 = 4294967296

-- opts: seed, latency_us (one way), sack (bool), cc (0 reno, 1 newreno,
-- 2 cubic; nil keeps the default), sndbuf, ack_every (default 2), total
-- (bytes the application has to send; default unlimited).
function M.new(opts)
  local self = setmetatable({}, B)
  self.lat = opts.latency_us or 50000
  self.ack_every = opts.ack_every or 2
  self.total = opts.total or math.huge
  self.queued = 0
  self.p = pkt.peer { seed = opts.seed or 1, latency_us = self.lat, config = function(cfg)
    cfg.tcp_sndbuf = opts.sndbuf or 8 * 1024 * 1024
    if opts.recovery == "dupack" then cfg.tcp_recovery = 1 end
  end }
  local err = ffi.new("int[1]")
  local l = C.tl_listen(self.p.st, PORT, 4, err)
  assert(l ~= nil, "listen failed")
  local p = self.p
  p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7,
    sackok = opts.sack }
  local sa = assert(p:expect(10 * self.lat), "no SYN-ACK")
  self.base = (sa.seq + 1) % U32 -- the first data byte
  p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = self.base, flags = ".", win = 65535 }
  p:collect(self.lat + 1000)
  self.s = C.tl_accept(l)
  assert(self.s ~= nil, "nothing to accept")
  if opts.cc then assert(C.tl_setopt(self.s, C.TL_OPT_CONGESTION, opts.cc) == 0) end
  self.mss = self:info().snd_mss
  self.rcv_nxt = 0      -- offset of the next in-order byte
  self.ranges = {}      -- out-of-order { start, end } offsets, sorted
  self.drops = {}       -- offset -> true: drop the first copy that starts there
  self.unacked = 0
  self.log = {}         -- { t, off, len } of every data segment that arrived
  return self
end

function B:info()
  local i = ffi.new("tl_tcp_info")
  C.tl_sock_info(self.s, i)
  return i
end

function B:now() return self.p:now() end

-- The application side: keep the send buffer full (up to opts.total).
function B:fill()
  while self.queued < self.total do
    local n = math.min(#CHUNK, self.total - self.queued)
    local r = tonumber(C.tl_send(self.s, CHUNK, n, self:now()))
    if r <= 0 then break end
    self.queued = self.queued + r
    if r < n then break end
  end
end

-- Fills the send buffer, takes the initial window of 10 segments and
-- acknowledges them one at a time (slow start: cwnd 20); returns the 20
-- segments that then go out.
function B:flight_of_20()
  local M, p = self.mss, self.p
  self:fill()
  assert(#p:collect(2000) == 10, "expected an initial window of 10 segments")
  for k = 1, 10 do
    self.rcv_nxt = k * M
    self:ack()
  end
  local flight = p:collect(2000)
  assert(#flight == 20, "expected 20 segments after ten ACKs, got " .. #flight)
  return flight
end

-- Drop the first arrival of the segment starting at offset `off`.
function B:drop(off) self.drops[off] = true end

local function add_range(self, s, e)
  local out, placed = {}, false
  for _, r in ipairs(self.ranges) do
    if r[2] < s or r[1] > e then
      out[#out + 1] = r
    else
      s, e = math.min(s, r[1]), math.max(e, r[2])
    end
  end
  for i, r in ipairs(out) do
    if not placed and s < r[1] then table.insert(out, i, { s, e }); placed = true; break end
  end
  if not placed then out[#out + 1] = { s, e } end
  self.ranges = out
  -- absorb ranges the cumulative point reached
  while self.ranges[1] and self.ranges[1][1] <= self.rcv_nxt do
    self.rcv_nxt = math.max(self.rcv_nxt, self.ranges[1][2])
    table.remove(self.ranges, 1)
  end
end

function B:ack(extra)
  local t = { sport = SPORT, dport = PORT, seq = ISS + 1, ack = (self.base + self.rcv_nxt) % U32, flags = ".",
    win = 65535 }
  if #self.ranges > 0 then
    t.sack = {}
    for i = #self.ranges, math.max(1, #self.ranges - 2), -1 do
      local r = self.ranges[i]
      t.sack[#t.sack + 1] = { (self.base + r[1]) % U32, (self.base + r[2]) % U32 }
    end
  end
  for k, v in pairs(extra or {}) do t[k] = v end
  self.p:send(t)
  self.unacked = 0
end

-- Take one arriving segment into the receive model; ACK as a receiver
-- would (every ack_every in-order segments, at once for out-of-order data
-- or a filled hole, RFC 5681 4.2).
function B:take(seg)
  local len = #seg.data
  if len == 0 then return end
  local off = (seg.seq - self.base) % U32
  if self.drops[off] then
    self.drops[off] = nil
    return
  end
  self.log[#self.log + 1] = { t = self:now(), off = off, len = len }
  local had_holes = #self.ranges > 0
  if off <= self.rcv_nxt and off + len > self.rcv_nxt then
    self.rcv_nxt = off + len
    add_range(self, off, off + len)
    self.unacked = self.unacked + 1
    if had_holes or self.unacked >= self.ack_every then self:ack() end
  elseif off > self.rcv_nxt then
    add_range(self, off, off + len)
    self:ack()
  else
    self:ack() -- a duplicate
  end
end

-- Run for `us` of virtual time, receiving and ACKing; the application
-- keeps the buffer full. Returns the segments seen.
function B:run(us)
  local deadline = self:now() + us
  local n = 0
  self:fill()
  while true do
    local seg = self.p:expect(deadline - self:now())
    if not seg then break end
    n = n + 1
    self:take(seg)
    self:fill()
  end
  if self.unacked > 0 then self:ack() end
  return n
end

return M
