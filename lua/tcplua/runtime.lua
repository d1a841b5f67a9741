-- A runtime: one stack plus its Lua world (timers, coroutines, sockets).
-- It never reads a clock: whoever drives it (the binary through
-- tcplua.host, or tcplua.sim) calls runtime:step(now_us), which drains the
-- stack's socket events, fires due timers and resumes ready coroutines until
-- nothing is left to do, then reports the next Lua deadline.
--
-- The functions a script sees (listen, connect, spawn, sleep, timer, ...)
-- are closures over the runtime collected in runtime.api, so the tcplua
-- module and a sim stack expose the same table shape.
--
-- The runtime table's own fields are the ones new() sets below; every
-- other module keeps its state under one field named after it: rt.ids
-- (tcplua.ids), rt.io (tcplua.connbase), rt.server (tcplua.server),
-- rt.evs (tcplua.evserver), rt.hook (tcplua.hook), rt.lend (tcplua.lend),
-- rt.simlink (tcplua.sim), rt.udp (tcplua.udp).
local core = require "tcplua.core"
local stack = require "tcplua.c.stack"
local timers = require "tcplua.timers"
local ids = require "tcplua.ids"
local base = require "tcplua.connbase"
local socket = require "tcplua.socket"
local server = require "tcplua.server"
local evserver = require "tcplua.evserver"
local hook = require "tcplua.hook"
local cgw = require "tcplua.c.gw"
local gateway = require "tcplua.gateway"
local lend = require "tcplua.lend"
local fault = require "tcplua.fault"
local hosts = require "tcplua.hosts"
local udp = require "tcplua.udp"
local co_create, co_resume, co_running, co_status, co_yield =
  coroutine.create, coroutine.resume, coroutine.running, coroutine.status, coroutine.yield
local traceback = debug.traceback
local unpack = unpack or table.unpack

-- What our own yields carry, so a stray coroutine.yield from user code can
-- be told apart (it is treated as "run me again on the next step").
local WAIT = setmetatable({}, { __tostring = function() return "tcplua.wait" end })

local R = {}
R.__index = R

local function default_report(msg) io.stderr:write(msg, "\n") end

-- opts: stack (tl_stack* cdata or nil), now_us, config (extra fields for
-- config()), report (function(msg) for errors; default stderr).
local function new(opts)
  opts = opts or {}
  local self = setmetatable({
    st = opts.stack,
    now_us = opts.now_us or 0,
    extra_config = opts.config or {},
    report = opts.report or default_report,
    timers = timers.new(),
    ready = {},          -- coroutines to resume, in order
    cos = {},            -- coroutine -> record { waiting, val, args, owned, on_done }
    done = setmetatable({}, { __mode = "k" }), -- finished threads not yet waited for
    alive = 0,           -- coroutines not yet finished
    stopped = false,
  }, R)
  self.api = self:_make_api()
  ids.init(self)
  server.init(self)
  evserver.init(self)
  hook.init(self)
  lend.init(self)
  udp.init(self)
  return self
end

function R:error(what, msg)
  local ok = pcall(self.report, "tcplua: error in " .. what .. ": " .. tostring(msg))
  if not ok then default_report("tcplua: error in " .. what .. ": " .. tostring(msg)) end
end

function R:need_stack()
  if not self.st then error("no stack: run under the tcplua binary or use tcplua.sim", 3) end
  return self.st
end

---------------------------------------------------------------- timers ----

local function arm(self, ms, fn, arg, period)
  -- Whole microseconds, rounded up: the drivers' clocks are integers, and a
  -- fractional deadline would look "not yet due" at the tick it is due.
  local t = { deadline = self.now_us + math.ceil(math.max(0, ms) * 1000), fn = fn, arg = arg,
    period = period, rt = self }
  return self.timers:push(t)
end

local Timer = {}
Timer.__index = Timer
-- Returns true if the timer was still pending.
function Timer:cancel()
  self.cancelled = true
  return self.rt.timers:remove(self)
end

local function user_timer(self, ms, fn, period)
  if type(ms) ~= "number" or ms ~= ms then error("timer: delay must be a number of ms", 3) end
  if type(fn) ~= "function" then error("timer: callback must be a function", 3) end
  if period and not (ms > 0) then error("every: period must be > 0 ms", 3) end
  local t = arm(self, ms, fn, nil, period and math.ceil(ms * 1000) or nil)
  t.user = true
  return setmetatable(t, Timer)
end

-- Fires timers due at now_us. Returns true if any fired.
function R:_run_timers()
  local heap, now, fired = self.timers, self.now_us, false
  while true do
    local t = heap:peek()
    if not t or t.deadline > now then break end
    heap:remove(t)
    fired = true
    if t.period then
      -- Keep the phase (no drift), but never schedule into the past.
      t.deadline = t.deadline + t.period
      if t.deadline <= now then t.deadline = now + t.period end
      heap:push(t)
    end
    if t.user then
      local ok, err = xpcall(t.fn, traceback, t)
      if not ok then self:error("timer callback", err) end
    else
      t.fn(self, t.arg)
    end
  end
  return fired
end

------------------------------------------------------------ coroutines ----

-- What a finished coroutine leaves: the error is reported, the waiter of a
-- thread woken, its child threads killed, its connections released.
local function finished(self, co, rec, ok, a, ...)
  if co_status(co) ~= "dead" then
    if a ~= WAIT then
      -- A bare coroutine.yield: behave like sleep(0).
      rec.val = nil
      self.ready[#self.ready + 1] = co
    end
    return
  end
  self.cos[co] = nil
  self.alive = self.alive - 1
  if not ok then
    local msg = traceback(co, a)
    if type(msg) == "string" then msg = self:label(rec) .. msg end
    self:error(rec.what, msg)
  end
  if rec.thread then
    -- Kept for tcplua.wait until the thread is waited for, killed, or
    -- unreachable (done is weak-keyed).
    rec.res = { n = select("#", ...) + 2, ok, a, ... }
    self.done[co] = rec
    if rec.parent and rec.parent.children then rec.parent.children[co] = nil end
    if rec.waiter then self:wake(rec.waiter, "event") end
  end
  if rec.children then self:_kill_children(rec) end
  if rec.on_done then
    local ok2, err2 = xpcall(rec.on_done, traceback, ok, rec)
    if not ok2 then self:error(rec.what .. " cleanup", err2) end
  end
  socket.release_owned(self, rec, ok)
end

-- Resumes co with the values given; reports an error and runs on_done.
function R:_resume(co, rec, ...)
  return finished(self, co, rec, co_resume(co, ...))
end

-- "10.77.0.1:53422 -> :7: " for a connection handler's error reports (the
-- peer, then the local port), "" for other coroutines.
function R:label(rec)
  local c = rec.conn
  if not c or not c.s then return rec.label or "" end
  return base.label(c)
end

-- Ends a coroutine that is not running: it never resumes. Its timer is
-- cancelled, the connection it was waiting on is freed for others, its own
-- threads are killed and the connections it owns are aborted (as when a
-- coroutine raises).
function R:_kill(co, rec)
  self.cos[co] = nil
  self.alive = self.alive - 1
  if rec.wt then self.timers:remove(rec.wt); rec.wt = nil end
  local wc = rec.wc
  if wc and wc[rec.wrole] == co then wc[rec.wrole] = nil end
  if rec.parent and rec.parent.children then rec.parent.children[co] = nil end
  if rec.waiter then self:wake(rec.waiter, "event") end
  if rec.children then self:_kill_children(rec) end
  socket.release_owned(self, rec, false)
end

function R:_kill_children(rec)
  local kids = rec.children
  rec.children = nil
  for kid in pairs(kids) do
    local krec = self.cos[kid]
    if krec then self:_kill(kid, krec) end
  end
end

-- Starts fn(...) in a new coroutine at once (it runs until its first wait).
-- rec: the coroutine's record; rec.what labels error reports, rec.owned
-- holds connections closed when it ends, rec.on_done(ok, rec) runs then.
-- A thread's rec.parent (the spawning coroutine's record) gets it as a
-- child before it first runs.
function R:_spawn(rec, fn, ...)
  if type(fn) ~= "function" then error("spawn: expected a function", 3) end
  local co = co_create(fn)
  local prec = rec.parent
  if prec then
    prec.children = prec.children or {}
    prec.children[co] = true
  end
  rec.waiting = false
  self.cos[co] = rec
  self.alive = self.alive + 1
  self:_resume(co, rec, ...)
  return co, rec
end

function R:current(name)
  local co = co_running()
  local rec = co and self.cos[co]
  if not rec then
    error(name .. " must be called inside a tcplua coroutine (a listen handler or a function run by "
      .. "tcplua.spawn); the main chunk and timer callbacks are not coroutines", 3)
  end
  return co, rec
end

-- Blocks the running coroutine until wake() or ms elapse (nil: forever).
-- Returns "event" or "timeout".
local function wake_timeout(self, co) self:wake(co, "timeout") end

function R:wait(co, rec, ms)
  local t
  if ms then t = arm(self, ms, wake_timeout, co); rec.wt = t end
  rec.waiting = true
  local why = co_yield(WAIT)
  if t then self.timers:remove(t); rec.wt = nil end
  return why
end

-- Makes a waiting coroutine ready; does nothing if it is not waiting.
function R:wake(co, why)
  local rec = co and self.cos[co]
  if rec and rec.waiting then
    rec.waiting = false
    rec.val = why or "event"
    self.ready[#self.ready + 1] = co
  end
end

function R:_run_ready()
  local q = self.ready
  if #q == 0 then return false end
  self.ready = {}
  for i = 1, #q do
    local co = q[i]
    local rec = self.cos[co]
    if rec then self:_resume(co, rec, rec.val) end
  end
  return true
end

------------------------------------------------------------------ step ----

-- The next Lua deadline in us, or -1.
function R:deadline()
  if #self.ready > 0 then return self.now_us end
  local t = self.timers:peek()
  return t and t.deadline or -1
end

-- True when nothing spawned is alive and no timer is armed.
function R:idle() return self.alive == 0 and self.timers.n == 0 and #self.ready == 0 end

function R:step(now_us)
  if now_us and now_us > self.now_us then self.now_us = now_us end
  for _ = 1, 100000 do
    local did = false
    if hook.drain(self) then did = true end
    if self.st and server.drain_events(self) then did = true end
    if self.st and udp.drain(self) then did = true end
    if self:_run_timers() then did = true end
    if self:_run_ready() then did = true end
    if not did then break end
  end
  return self:deadline(), self.stopped
end

-- Aborts every connection and closes every listener (the binary is exiting).
function R:shutdown()
  server.shutdown_all(self)
  udp.shutdown_all(self)
end

------------------------------------------------------------------- api ----

function R:config()
  local t = {}
  if self.st then
    local c = stack.config(self.st)
    t.addr = core.ipstr(c.addr)
    t.host = core.ipstr(c.host)
    if c.ipv6 ~= 0 then
      t.addr6 = core.ip6str(core.ip6_of(c.addr6_hi, c.addr6_lo))
      t.host6 = core.ip6str(core.ip6_of(c.host6_hi, c.host6_lo))
    end
    t.prefix = c.prefix
    t.mtu = c.mtu
    t.ttl = c.ttl
    t.seed = tonumber(c.seed)
    t.sndbuf = tonumber(c.tcp_sndbuf)
    t.rcvbuf = tonumber(c.tcp_rcvbuf)
    t.backlog = tonumber(c.tcp_backlog)
    t.syncookies = c.tcp_no_syncookies == 0
    t.congestion = ({ [0] = "reno", "newreno", "cubic", "bbr" })[c.tcp_cc]
  end
  for k, v in pairs(self.extra_config) do t[k] = v end
  return t
end

-- Threads (OpenResty's ngx.thread): spawn returns the coroutine, which
-- wait and kill take; a thread spawned inside a coroutine is that
-- coroutine's child and is killed when it ends.
local function api_spawn(self, fn, ...)
  local pco = co_running()
  local prec = pco and self.cos[pco]
  local rec = { what = "coroutine", thread = true, parent = prec, label = prec and self:label(prec) }
  return (self:_spawn(rec, fn, ...))
end

-- The results of the first of the threads ... to finish (waiting for one).
-- api.wait and api.kill tail-call these, so level 2 is the script's call.
local function api_wait(self, ...)
  local co, rec = self:current("tcplua.wait")
  local n = select("#", ...)
  if n == 0 then error("wait: expected one or more threads from tcplua.spawn", 2) end
  for i = 1, n do
    local t = select(i, ...)
    if type(t) ~= "thread" then error("wait: argument " .. i .. " is not a thread from tcplua.spawn", 2) end
    if t == co then error("wait: a thread cannot wait for itself", 2) end
  end
  while true do
    local alive = false
    for i = 1, n do
      local t = select(i, ...)
      local d = self.done[t]
      if d then
        self.done[t] = nil
        local r = d.res
        d.res = nil
        for j = 1, n do
          local tr = self.cos[select(j, ...)]
          if tr and tr.waiter == co then tr.waiter = nil end
        end
        return unpack(r, 1, r.n)
      end
      local tr = self.cos[t]
      if tr and tr.thread then
        alive = true
        tr.waiter = co
      end
    end
    if not alive then return nil, "already waited or killed" end
    self:wait(co, rec, nil)
  end
end

local function api_kill(self, t)
  if type(t) ~= "thread" then error("kill: expected a thread from tcplua.spawn", 2) end
  if t == co_running() then return nil, "cannot kill the running thread" end
  if co_status(t) == "normal" then return nil, "cannot kill a thread that is resuming this one" end
  if self.done[t] then
    self.done[t] = nil
    return true
  end
  local rec = self.cos[t]
  if not rec or not rec.thread then return nil, "already waited or killed" end
  self:_kill(t, rec)
  return true
end

-- listen([host,] port, handler, opts): host, when given, is the stack's
-- own address (a dotted quad, its IPv6 address, a hosts-file name, or "*",
-- "0.0.0.0", "::"). A listener takes both families either way.
local function api_listen(self, port, handler, opts, ...)
  self:need_stack()
  if type(port) ~= "string" then return server.listen(self, port, handler, opts) end
  local host = port
  if host ~= "*" then
    local addr, err = hosts.resolve(host)
    if not addr then return nil, err end
    local own = core.ip(self:config().addr)
    local own6 = self:config().addr6
    if type(addr) == "string" then
      if addr ~= ("\0"):rep(16) and addr ~= (own6 and core.ip6(own6)) then
        return nil, ("not this stack's address: %s, the stack is %s"):format(host, own6 or "IPv4 only")
      end
    elseif addr ~= 0 and addr ~= own then
      return nil, ("not this stack's address: %s is %s, the stack is %s"):format(host, core.ipstr(addr),
        core.ipstr(own))
    end
  end
  return server.listen(self, handler, opts, ...)
end

function R:_make_api()
  local self_ = self
  local api = { _runtime = self }
  function api.now() return self_.now_us / 1000 end
  function api.timer(ms, fn) return user_timer(self_, ms, fn, false) end
  function api.every(ms, fn) return user_timer(self_, ms, fn, true) end
  function api.spawn(fn, ...) return api_spawn(self_, fn, ...) end
  function api.wait(...) return api_wait(self_, ...) end
  function api.kill(t) return api_kill(self_, t) end
  function api.sleep(ms)
    local co, rec = self_:current("tcplua.sleep")
    if type(ms) ~= "number" then error("sleep: expected ms", 2) end
    self_:wait(co, rec, math.max(0, ms))
  end
  function api.stats()
    return hook.stats(self_, core.stats(self_:need_stack()))
  end
  function api.on_segment(fn)
    self_:need_stack()
    return hook.on_segment(self_, fn)
  end
  function api.accept_filter(fn)
    self_:need_stack()
    return hook.accept_filter(self_, fn)
  end
  -- The gateway's flow table (tcplua --gateway, docs/gateway.md).
  function api.flows()
    local st = self_:need_stack()
    if not cgw.is(st) then return {} end
    return gateway.flows(st)
  end
  -- Resets the flow of a segment (a hook's seg) at both ends; the number
  -- of RSTs sent, or nil, err.
  function api.reset_flow(seg)
    local st = self_:need_stack()
    if not cgw.is(st) then return nil, "not a gateway" end
    local hs = type(seg) == "table" and rawget(seg, "_seg")
    if not hs then error("reset_flow: expected the segment a hook was given", 2) end
    local n = cgw.reset(st, hs.pkt, hs.len, self_.now_us)
    if n < 0 then return nil, "no such flow" end
    return n
  end
  -- In a gateway: hooks may see GSO super-packets whole (docs/gateway.md).
  function api.super_packets(on)
    local st = self_:need_stack()
    if not cgw.is(st) then return nil, "not a gateway" end
    cgw.set_whole(st, on ~= false)
    return true
  end
  function api.inject(fields)
    self_:need_stack()
    return hook.inject(self_, fields)
  end
  -- Seeds the fault library (the same seed gives the same faults).
  function api.seed(n)
    if type(n) ~= "number" then error("seed: expected a number", 2) end
    fault.seed(n)
  end
  function api.config() return self_:config() end
  function api.stop() self_.stopped = true end
  function api.on_error(fn) self_.report = fn or default_report end
  function api.listen(...) return api_listen(self_, ...) end
  function api.udp(opts)
    self_:need_stack()
    return udp.new(self_, opts)
  end
  function api.connect(host, port, opts)
    self_:need_stack()
    return socket.connect(self_, host, port, opts)
  end
  return api
end

return { new = new, WAIT = WAIT }
