-- Two tcplua stacks joined by the sim link, driven through the C API, for
-- the TCP engine specs (spec/sim/tcp_*_spec.lua).
--
--   local tcpsim = require "helpers.tcpsim"
--   local w = tcpsim.pair { seed = 7, latency_us = 1000 }
--   local l = w:listen(w.b, 80)
--   local c = w:connect(w.a, w.addr_b, 80)
--   w:run_until(function() return w:state(c) == "ESTABLISHED" end)
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}
local W = {}
W.__index = W

M.A, M.B = "10.0.0.1", "10.0.0.2"

-- IPv6: a is fd77::1, b fd77::2 (M.A6, M.B6, as 16-byte strings in
-- w.addr6_a, w.addr6_b); w:connect6 and w:establish6 use them.
M.A6, M.B6 = "\253\119" .. string.rep("\0", 13) .. "\1", "\253\119" .. string.rep("\0", 13) .. "\2"

-- opts: seed, latency_us, config(cfg, which) to adjust either stack's
-- tl_config ("a" or "b"), impair_a / impair_b (tl_impair_config tables).
function M.pair(opts)
  opts = opts or {}
  local w = setmetatable({}, W)
  w.seed = opts.seed or 1
  w.sim = ffi.gc(C.tl_sim_new(w.seed, opts.latency_us or 1000), C.tl_sim_free)
  w.addr_a, w.addr_b = core.ip(M.A), core.ip(M.B)
  w.addr6_a, w.addr6_b = M.A6, M.B6
  local function stack(addr, peer, which)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    cfg.addr, cfg.host, cfg.seed = addr, peer, w.seed * 2 + (which == "a" and 0 or 1)
    cfg.addr6_lo, cfg.host6_lo = which == "a" and 1 or 2, which == "a" and 2 or 1
    if opts.config then opts.config(cfg, which) end
    local ep = C.tl_sim_add_stack(w.sim, cfg)
    assert(ep >= 0, "cannot add a stack to the sim")
    return ep, C.tl_sim_stack(w.sim, ep)
  end
  w.ep_a, w.a = stack(w.addr_a, w.addr_b, "a")
  w.ep_b, w.b = stack(w.addr_b, w.addr_a, "b")
  if opts.impair_a then w:impair(w.ep_a, opts.impair_a) end
  if opts.impair_b then w:impair(w.ep_b, opts.impair_b) end
  w.ev = ffi.new("tl_event")
  w.events = {}          -- [socket address] = OR of masks seen
  w.err = ffi.new("int[1]")
  return w
end

function W:impair(ep, t)
  local ic = ffi.new("tl_impair_config")
  for k, v in pairs(t) do ic[k] = v end
  C.tl_sim_impair(self.sim, ep, ic)
end

function W:now() return tonumber(C.tl_sim_now(self.sim)) end

local function key(s) return tostring(ffi.cast("uintptr_t", s)) end

-- Drain every stack's pending events into self.events.
function W:drain()
  for _, st in ipairs({ self.a, self.b }) do
    while C.tl_next_event(st, self.ev) ~= 0 do
      local k = key(self.ev.sock)
      self.events[k] = bit.bor(self.events[k] or 0, self.ev.mask)
    end
  end
end

-- Events seen on s since the last call (and forget them).
function W:took(s)
  self:drain()
  local k = key(s)
  local m = self.events[k] or 0
  self.events[k] = nil
  return m
end

-- Advance virtual time until pred() is true (checked after every step) or
-- `limit_us` passes. Returns pred's final value.
function W:run_until(pred, limit_us)
  local deadline = self:now() + (limit_us or 10e6)
  for _ = 1, 1e6 do
    self:drain()
    local v = pred()
    if v then return v end
    if self:now() >= deadline then return pred() end
    C.tl_sim_run(self.sim, deadline)
  end
  error("run_until did not settle")
end

-- Let `us` of virtual time pass.
function W:advance(us)
  local t = self:now() + us
  self:run_until(function() return self:now() >= t end, us)
end

function W:listen(st, port, backlog)
  local l = C.tl_listen(st, port, backlog or 0, self.err)
  assert(l ~= nil, "tl_listen: " .. core.strerror(self.err[0]))
  return l
end

function W:connect(st, daddr, dport, sport)
  local s = C.tl_connect(st, daddr, dport, sport or 0, self:now(), self.err)
  assert(s ~= nil, "tl_connect: " .. core.strerror(self.err[0]))
  return s
end

function W:connect6(st, daddr, dport, sport)
  local s = C.tl_connect6(st, daddr, dport, sport or 0, self:now(), self.err)
  assert(s ~= nil, "tl_connect6: " .. core.strerror(self.err[0]))
  return s
end

function W:state(s) return ffi.string(C.tl_state_name(C.tl_sock_state(s))) end

function W:info(s)
  local i = ffi.new("tl_tcp_info")
  assert(C.tl_sock_info(s, i) == 0)
  return i
end

-- Connect a -> b:port and accept; returns client, server, listener.
function W:establish(port, v6)
  port = port or 80
  local l = self:listen(self.b, port)
  local c = v6 and self:connect6(self.a, self.addr6_b, port) or self:connect(self.a, self.addr_b, port)
  local srv
  self:run_until(function()
    if srv == nil then
      local s = C.tl_accept(l)
      if s ~= nil then srv = s end
    end
    return srv ~= nil and self:state(c) == "ESTABLISHED"
  end, 120e6)
  assert(srv ~= nil, "seed " .. self.seed .. ": no connection to accept")
  return c, srv, l
end

-- Accept every connection waiting on listener l, appending them to the
-- list `into` (a new one if nil); returns the list.
function W:accept_all(l, into)
  into = into or {}
  for _ = 1, 1e6 do
    local s = C.tl_accept(l)
    if s == nil then break end
    into[#into + 1] = s
  end
  return into
end

-- Everything readable now, as a string ("" if none); also returns the last
-- tl_recv code (<0) when it stopped on one.
local rbuf = ffi.new("uint8_t[65536]")
function W:read(s)
  local parts = {}
  while true do
    local n = tonumber(C.tl_recv(s, rbuf, 65536, self:now()))
    if n <= 0 then return table.concat(parts), n end
    parts[#parts + 1] = ffi.string(rbuf, n)
  end
end

function W:send(s, data)
  return tonumber(C.tl_send(s, data, #data, self:now()))
end

-- Deterministic pseudo-random bytes.
function M.bytes(n, seed)
  local t, x = {}, (seed or 1) % 2147483647
  if x == 0 then x = 1 end
  local chunk = {}
  for i = 1, n do
    x = (x * 16807) % 2147483647
    chunk[#chunk + 1] = x % 256
    if #chunk == 4096 or i == n then
      t[#t + 1] = string.char(unpack(chunk))
      chunk = {}
    end
  end
  return table.concat(t)
end

-- Stream `data` from socket `from` to socket `to`, then half-close `from`;
-- returns what `to` received before its FIN and whether the FIN came, within
-- `limit_us` of virtual time.
function W:stream(from, to, data, limit_us)
  local sent, got, fin = 0, {}, false
  local ptr = ffi.cast("const uint8_t *", data)
  local shut = false
  self:run_until(function()
    while sent < #data do
      local n = tonumber(C.tl_send(from, ptr + sent, #data - sent, self:now()))
      if n <= 0 then break end
      sent = sent + n
    end
    if sent == #data and not shut then
      C.tl_shutdown(from, self:now())
      shut = true
    end
    local s, code = self:read(to)
    if #s > 0 then got[#got + 1] = s end
    if code == C.TL_ECLOSED then fin = true end
    return fin or (code ~= C.TL_EAGAIN and code < 0)
  end, limit_us or 60e6)
  return table.concat(got), fin
end

-- One bulk transfer of `data` from a new pair's a to b, checked
-- byte-exact with its FIN. opts: seed, latency_us, impair_a (as for pair),
-- no_undo (cfg.tcp_no_undo on both), cc (the sender's TL_OPT_CONGESTION),
-- timestamps / sack = false (b declines them when a offers them,
-- tl_tcp_accept_options), limit_us. Returns the seconds of virtual time it
-- took, a's counters and the sender's final tl_tcp_info.
function M.bulk(data, opts)
  local w = M.pair { seed = opts.seed, latency_us = opts.latency_us, impair_a = opts.impair_a,
    config = function(cfg)
      cfg.tcp_no_undo = opts.no_undo and 1 or 0
      if opts.recovery == "dupack" then cfg.tcp_recovery = 1 end
    end }
  if opts.timestamps == false or opts.sack == false then
    C.tl_tcp_accept_options(w.b, opts.timestamps == false and 0 or 1, opts.sack == false and 0 or 1)
  end
  local c, s = w:establish(80)
  if opts.cc then C.tl_setopt(c, C.TL_OPT_CONGESTION, opts.cc) end
  local t0 = w:now()
  local got, fin = w:stream(c, s, data, opts.limit_us or 600e6)
  assert(fin, "seed " .. w.seed .. ": no FIN")
  assert(got == data, "seed " .. w.seed .. ": bytes differ")
  return (w:now() - t0) / 1e6, core.stats(w.a), w:info(c)
end

-- `from` sends `data` and half-closes while `to` echoes everything back
-- and half-closes after the FIN; both directions at once, as an echo
-- server does. Returns whether `from` saw the echo's FIN within `limit_us`
-- of virtual time, and what came back by then.
local ebuf = ffi.new("uint8_t[65536]")
function W:echo(from, to, data, limit_us)
  local ptr = ffi.cast("const uint8_t *", data)
  local sent, got, pend, shut, eshut = 0, {}, "", false, false
  local done = self:run_until(function()
    while sent < #data do
      local n = tonumber(C.tl_send(from, ptr + sent, #data - sent, self:now()))
      if n <= 0 then break end
      sent = sent + n
    end
    if sent == #data and not shut then shut = C.tl_shutdown(from, self:now()) == 0 end
    while true do -- the echo side: what it could not send waits in pend
      if #pend > 0 then
        local n = tonumber(C.tl_send(to, pend, #pend, self:now()))
        if n > 0 then pend = pend:sub(n + 1) end
        if #pend > 0 then break end
      end
      local n = tonumber(C.tl_recv(to, ebuf, 65536, self:now()))
      if n > 0 then
        pend = ffi.string(ebuf, n)
      else
        if n == C.TL_ECLOSED and not eshut then eshut = C.tl_shutdown(to, self:now()) == 0 end
        break
      end
    end
    local r, code = self:read(from)
    if #r > 0 then got[#got + 1] = r end
    return code == C.TL_ECLOSED
  end, limit_us or 60e6)
  return done, table.concat(got)
end

return M
