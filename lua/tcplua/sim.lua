-- Several stacks in one process under a virtual clock (tl_sim_*), each with
-- its own Lua runtime: the whole tcplua API without root or a TUN device.
--
--   local sim = require("tcplua.sim").new{ seed = 1, latency_ms = 1 }
--   local a = sim:stack{ addr = "10.0.0.1" }
--   local b = sim:stack{ addr = "10.0.0.2" }
--   a.listen(7, function(conn) ... end)
--   b.spawn(function() local c = b.connect("10.0.0.1", 7) ... end)
--   sim:run(10000)               -- virtual ms
--
-- Virtual time only advances inside tl_sim_run, so a long transfer under
-- heavy loss costs the CPU time of its packets, not wall-clock time.
local core = require "tcplua.core"
local csim = require "tcplua.c.sim"
local stack = require "tcplua.c.stack"
local runtime = require "tcplua.runtime"

local Sim = {}
Sim.__index = Sim

local function new(opts)
  opts = opts or {}
  local seed = opts.seed or 1
  local latency_us = math.floor((opts.latency_ms or 1) * 1000)
  local sim = csim.new(seed, latency_us)
  if not sim then error("tl_sim_new failed", 2) end
  return setmetatable({ sim = sim, seed = seed, runtimes = {}, report = opts.report,
    settle_us = math.floor((opts.settle_ms or 5000) * 1000) }, Sim)
end

-- The IPv4 config field names a user may override, with their converters.
local ADDR_FIELDS = { addr = true, host = true }

-- A new stack on the sim; returns its runtime API (listen, connect, spawn,
-- sleep, timer, every, now, stats, config, stop ...). cfg: addr (required),
-- addr6 (the IPv6 address as text; default fd77::2, so give each stack
-- its own when they talk IPv6),
-- any tl_config field (tcp_sndbuf, tcp_rto_min_us ...), and the short names
-- sndbuf, rcvbuf, mtu, seed; report = function(msg) for error reports.
function Sim:stack(cfg)
  cfg = cfg or {}
  local c = stack.default_config()
  c.seed = self.seed * 1000 + #self.runtimes + 1
  for k, v in pairs(cfg) do
    if k == "addr6" then
      local a, err = core.ip6(v)
      if not a then error(err, 2) end
      local hi, lo = 0ULL, 0ULL
      for i = 1, 8 do
        hi = hi * 256ULL + a:byte(i)
        lo = lo * 256ULL + a:byte(8 + i)
      end
      c.addr6_hi, c.addr6_lo = hi, lo
    elseif ADDR_FIELDS[k] then
      local ip, err = core.ip(v)
      if not ip then error(err, 2) end
      c[k] = ip
    elseif k == "sndbuf" or k == "rcvbuf" or k == "backlog" then
      c["tcp_" .. k] = v
    elseif k ~= "report" and k ~= "name" then
      local ok, err = pcall(function() c[k] = v end)
      if not ok then error("sim:stack: bad config field " .. tostring(k) .. ": " .. tostring(err), 2) end
    end
  end
  local ep = csim.add_stack(self.sim, c)
  if ep < 0 then error("sim:stack: tl_sim_add_stack failed (" .. tostring(ep) .. ")", 2) end
  local rt = runtime.new {
    stack = csim.stack(self.sim, ep),
    now_us = csim.now(self.sim),
    report = cfg.report or self.report,
    config = { name = cfg.name },
  }
  -- The sim's own field of the runtime: its endpoint, and the sim itself,
  -- which this keeps (and so the stack) alive.
  rt.simlink = { ep = ep, sim = self }
  self.runtimes[#self.runtimes + 1] = rt
  return rt.api
end

local function endpoint(from)
  if from == nil then return -1 end
  if type(from) == "number" then return from end
  local rt = from._runtime or from
  return rt.simlink.ep
end

-- Impairment on packets sent by a stack (or raw endpoint index), or by all
-- when from is nil: { loss, duplicate, reorder, corrupt, delay_ms,
-- jitter_ms, reorder_gap, rate_bps, queue_max, the netem knobs
-- (docs/lua-api.md), netem = "words" }, or a string of tc-netem words.
function Sim:impair(from, cfg)
  local ok, err = csim.impair(self.sim, endpoint(from), cfg or {})
  if not ok then error("sim:impair: " .. err, 2) end
end

-- Virtual time in ms.
function Sim:now() return csim.now(self.sim) / 1000 end

function Sim:_step_all(now)
  local deadline, stopped = -1, false
  for i = 1, #self.runtimes do
    local d, s = self.runtimes[i]:step(now)
    if d >= 0 and (deadline < 0 or d < deadline) then deadline = d end
    if s then stopped = true end
  end
  return deadline, stopped
end

function Sim:_stacks_quiet()
  for i = 1, #self.runtimes do
    if stack.deadline(self.runtimes[i].st) >= 0 then return false end
  end
  return true
end

function Sim:_idle()
  for i = 1, #self.runtimes do
    if not self.runtimes[i]:idle() then return false end
  end
  return true
end

-- Runs until pred() is true (checked after every step), some runtime called
-- stop(), or max_ms of virtual time passed. Without pred it runs until all
-- work is done: no coroutine alive and no timer armed in any runtime, and
-- either no stack has a timer armed (nothing unacknowledged anywhere) or no
-- packet was delivered for settle_ms (default 5 s: longer than an initial
-- RTO and its first backoff; TIME-WAIT and delayed ACKs keep stack timers
-- armed), so segments still in flight -- a connection not yet accepted, a
-- FIN being retransmitted -- are finished too. Returns true
-- if it stopped for pred/done/stop, false on reaching max_ms.
function Sim:run_until(pred, max_ms)
  local sim = self.sim
  local now = csim.now(sim)
  local t_end = now + math.floor((max_ms or 60000) * 1000)
  local settle = self.settle_us
  local spins, quiet_since, delivered = 0, nil, nil
  while true do
    local deadline, stopped = self:_step_all(now)
    if stopped then return true end
    if pred and pred() then return true end
    local target = t_end
    if not pred and self:_idle() then
      -- No stack timer at all means nothing unacknowledged anywhere (data,
      -- SYN and FIN arm a retransmission timer): done without settling.
      if self:_stacks_quiet() then return true end
      local d = csim.delivered(sim)
      if d ~= delivered or not quiet_since then delivered, quiet_since = d, now end
      if now - quiet_since >= settle then return true end
      -- Advance in slices so a delivery is noticed near when it happens.
      local slice = math.min(quiet_since + settle, now + math.max(1, math.floor(settle / 50)))
      if slice < target then target = slice end
    else
      quiet_since = nil
    end
    if now >= t_end then return false end
    if deadline >= 0 and deadline < target then target = deadline end
    if target < now then target = now end
    csim.run(sim, target)
    local after = csim.now(sim)
    if after == now then
      -- Stopped for events without advancing: the next step consumes them.
      -- Bounded, so a packet nobody reads cannot spin us forever.
      spins = spins + 1
      if spins > 100000 then error("sim: no progress at t=" .. now .. " us", 2) end
    else
      spins = 0
    end
    now = after
  end
end

-- Runs until all spawned work is done or max_ms of virtual time passed.
function Sim:run(max_ms) return self:run_until(nil, max_ms) end

-- A raw endpoint (for scripted peers); returns its endpoint index.
function Sim:raw(addr)
  local ep = csim.add_raw(self.sim, assert(core.ip(addr)))
  if ep < 0 then error("sim:raw: tl_sim_add_raw failed", 2) end
  return ep
end

return { new = new }
