-- Event-style servers: tcp.listen(port, { on_data = fn, ... }) calls back
-- per event instead of running a coroutine per connection, so an idle
-- connection costs Lua nothing. The core's user word of each accepted
-- socket names its server (tcplua.ids); the connection object a
-- callback gets is made on demand and cached weakly by socket address, so
-- it stays the same object for as long as the script keeps a reference,
-- and is garbage once nobody does. A connection holds a strong Lua object
-- only while it needs one: bytes the send buffer could not take, a close
-- still lingering (EvConn:close), or fields the script stored on it
-- (conn.buf = ...), which must outlive the callback that set them.
-- Internal fields are written with rawset so that they pin nothing.
--
-- Back-pressure: conn:send never waits; what the core's send buffer cannot
-- take stays queued in Lua and on_data is not called again (the bytes stay
-- in the core's receive buffer, so the receive window closes on the peer)
-- until the queue has drained.
local sock = require "tcplua.c.sock"
local stream = require "tcplua.c.stream"
local base = require "tcplua.connbase"
local ids = require "tcplua.ids"
local lend = require "tcplua.lend"

local M = {}

local READ_CHUNK = base.READ_CHUNK
-- How long a closing connection waits for the peer's FIN after its own
-- (nginx's lingering_timeout has the same default).
local LINGER_US = 5e6
M.LINGER_US = LINGER_US
local EAGAIN = stream.EAGAIN
local traceback = debug.traceback
local errword, FIN_STATES, drop_input, label = base.errword, base.FIN_STATES, base.drop_input, base.label

-- Introspection (peer, sockname, state, info, options) is shared with
-- coroutine connections (tcplua.connbase); reading, writing and closing
-- are not.
local EvConn = base.class()
M.EvConn = EvConn

-- A field the script stores pins the connection (rt.evs.pinned) until it
-- ends, so conn.buf = ... is still there in the next callback although
-- the cache is weak. Connections without such fields stay unpinned.
function EvConn.__newindex(c, k, v)
  rawset(c, k, v)
  if rawget(c, "s") ~= nil and not rawget(c, "ending") then c.rt.evs.pinned[c.key] = c end
end

function M.init(rt)
  rt.evs = {
    srv = {},                                      -- server id -> server
    conn = setmetatable({}, { __mode = "v" }),     -- socket address -> conn
    busy = {},                                     -- socket address -> conn with pending work
    pinned = {},                                   -- socket address -> conn with script fields
    idle_victims = nil,                            -- during an idle sweep: address -> socket
  }
end

local addr_of = sock.key

local function conn_for(rt, srv, s, key)
  local evs = rt.evs
  local c = evs.conn[key]
  if c and c.s == s then return c end
  c = setmetatable({ rt = rt, s = s, srv = srv, key = key }, EvConn)
  evs.conn[key] = c
  return c
end

-- The event server with id, or nil.
function M.server(rt, id) return rt.evs.srv[id] end

-- Runs callback fn (on_accept, on_data or on_drain, called name) for c;
-- true if it returned normally. An error is reported with its traceback and aborts
-- this connection only (on_close then gets "error").

local function call(c, name, fn, data)
  local ok, err = xpcall(fn, traceback, c, data)
  if ok then return true end
  c.rt:error(name .. " callback", label(c) .. tostring(err))
  if c.s and not c.ending then M.finish(c, "error", true) end
  return false
end

-- Hands handle s (under key) back to the core, closed or aborted, and
-- forgets it; the server goes once it is closed and this was its last.
local function release(rt, srv, s, key, abort)
  -- The orphan the core finishes on its own must not look like ours to a
  -- segment hook (conn_of) while it lives on in FIN-WAIT or TIME-WAIT.
  ids.clear(s)
  if abort then lend.abort(rt, s, rt.now_us) else lend.close(rt, s, rt.now_us) end
  local evs = rt.evs
  if evs.idle_victims then evs.idle_victims[key] = nil end
  srv.nconn = srv.nconn - 1
  if srv.nconn == 0 and not srv.s then evs.srv[srv.id] = nil end
end

-- The end of a connection: on_close(conn, why) while the handle still
-- answers peer() and info(), then the core handle is released (graceful
-- close, or RST when abort). why: nil for a graceful end, else an error word.
function M.finish(c, why, abort)
  local rt, s, srv = c.rt, c.s, c.srv
  rawset(c, "ending", true)
  rawset(c, "wq", nil)
  rawset(c, "wq_bytes", nil)
  if c.linger_t then
    rt.timers:remove(c.linger_t)
    rawset(c, "linger_t", nil)
  end
  local on_close = srv.handlers.on_close
  if on_close then
    local ok, err = xpcall(on_close, traceback, c, why)
    if not ok then rt:error("on_close callback", label(c) .. tostring(err)) end
  end
  c.s = nil
  local evs = rt.evs
  evs.conn[c.key] = nil
  evs.busy[c.key] = nil
  evs.pinned[c.key] = nil
  release(rt, srv, s, c.key, abort)
end

-- finish() for a connection that has no Lua object: without an on_close
-- to call, none is made.
local function finish_idle(rt, srv, s, key, why, abort)
  local c = rt.evs.conn[key]
  if srv.handlers.on_close or (c and c.s == s) then
    return M.finish(conn_for(rt, srv, s, key), why, abort)
  end
  release(rt, srv, s, key, abort)
end

-- Pushes queued bytes into the core. Returns true when the queue is empty,
-- false while the send buffer is full, or nil, err.
local function flush(c)
  local q, s, now = c.wq, c.s, c.rt.now_us
  while q.head <= q.tail do
    local p = q[q.head]
    local len = #p
    -- Pieces up to q.urg go urgent.
    local r = lend.send(c.rt, s, p, q.off, q.urg and q.head <= q.urg, now)
    if r > 0 then
      q.off = q.off + r
      c.wq_bytes = c.wq_bytes - r
      if q.off < len then return false end
      q[q.head] = nil
      q.head, q.off = q.head + 1, 0
    elseif r == 0 or r == EAGAIN then
      return false
    else
      return nil, errword(r)
    end
  end
  rawset(c, "wq", nil)
  rawset(c, "wq_bytes", nil)
  return true
end

local linger_expired

-- The lingering close (EvConn:close), one step per event. RFC 9293 3.10.4
-- / RFC 1122 4.2.2.13: closing a connection with unread input, or input
-- arriving after the close, resets it; the RST throws away what the send
-- buffer still holds, and the peer may drop what it has not yet read, so
-- the reply is cut short. So a closing connection reads and drops its
-- input, sends its queued bytes, then FIN (tl_shutdown), and releases the
-- core handle (tl_close) only once the peer's FIN says no more input can
-- come, or LINGER_US after its own FIN.
local function linger(c)
  local rt, s = c.rt, c.s
  drop_input(rt, s)
  local e = sock.error(s)
  if e ~= 0 then return M.finish(c, errword(e), true) end
  if c.wq then
    local done, err = flush(c)
    if done == nil then return M.finish(c, err, true) end
    if not done then return end
  end
  if not c.fin_sent then
    rawset(c, "fin_sent", true)
    local r = sock.shutdown(s, rt.now_us)
    if r < 0 then return M.finish(c, errword(r), true) end
  end
  if FIN_STATES[sock.state(s)] then return M.finish(c, nil, false) end
  if not c.linger_t then
    rawset(c, "linger_t", rt.timers:push({ deadline = rt.now_us + LINGER_US, fn = linger_expired, arg = c }))
  end
end

-- No FIN from the peer in time: hand the connection to the core (tl_close;
-- input arriving later now resets it). on_close says nil if the peer has
-- acknowledged everything (FIN-WAIT-2), else "timeout".
function linger_expired(rt, c)
  rawset(c, "linger_t", nil)
  local s = c.s
  if not s or c.ending then return end
  drop_input(rt, s)
  local e = sock.error(s)
  if e ~= 0 then return M.finish(c, errword(e), true) end
  if FIN_STATES[sock.state(s)] or sock.state(s) == sock.FIN_WAIT_2 then
    return M.finish(c, nil, false)
  end
  M.finish(c, "timeout", false)
end

-- A connection became readable, writable or ended: deliver what there is.
local function service(rt, srv, s)
  local key = addr_of(s)
  local busy = rt.evs.busy
  local c = busy[key]
  local h = srv.handlers
  if c and c.closing then return linger(c) end
  if c then
    -- Queued writes first: on_data stays paused until they have left.
    local done, err = flush(c)
    if done == nil then
      local e = sock.error(s)
      return M.finish(c, e ~= 0 and errword(e) or err, true)
    end
    if not done then
      local e = sock.error(s)
      if e ~= 0 then M.finish(c, errword(e), true) end
      return
    end
    busy[key] = nil
    if c.shut_pending then
      rawset(c, "shut_pending", nil)
      local r = sock.shutdown(s, rt.now_us)
      if r < 0 then return M.finish(c, errword(r), true) end
    end
    if h.on_drain and not call(c, "on_drain", h.on_drain) then return end
    if not c.s or c.wq or c.closing then return end
  end
  local on_data = h.on_data
  while true do
    local n = stream.readable(s)
    if n == 0 then break end
    if n > READ_CHUNK then n = READ_CHUNK end
    local buf = base.buffer(rt, n)
    local r = stream.recv(s, buf, n, rt.now_us)
    if r <= 0 then break end
    local active = srv.active
    if active then active[key] = true end
    if on_data then -- without it the bytes are discarded, and no conn is made
      c = c or conn_for(rt, srv, s, key)
      if not call(c, "on_data", on_data, stream.string(buf, r)) then return end
      if not c.s or c.wq or c.closing then return end
    end
  end
  local e = sock.error(s)
  if e ~= 0 then
    if c then return M.finish(c, errword(e), true) end
    return finish_idle(rt, srv, s, key, errword(e), true)
  end
  local state = sock.state(s)
  if FIN_STATES[state] then
    -- With on_end the peer's FIN half-closes (RFC 9293 3.6: CLOSE-WAIT may
    -- still send): the script says when it is done with conn:close().
    if h.on_end then
      c = c or conn_for(rt, srv, s, key)
      if not c.ended then
        rawset(c, "ended", true)
        rt.evs.pinned[key] = c -- the flag must outlive this callback
        if not call(c, "on_end", h.on_end) then return end
        if not c.s or c.closing then return end
        state = sock.state(s)
      end
      if state == sock.CLOSE_WAIT or c.wq then return end
    end
    if c then return M.finish(c, nil, false) end
    return finish_idle(rt, srv, s, key, nil, false)
  end
end
M.service = service

-- Accepts every queued connection of an event server.
function M.accept_all(rt, srv)
  local on_accept = srv.handlers.on_accept
  while srv.s do
    local s = sock.accept(srv.s)
    if s == nil then break end
    ids.set_event(s, srv.id)
    srv.nconn = srv.nconn + 1
    if srv.conn_opts then base.apply_child_opts(rt, srv, s) end
    if srv.active then srv.active[addr_of(s)] = true end
    if on_accept then
      local c = conn_for(rt, srv, s, addr_of(s))
      call(c, "on_accept", on_accept)
    end
    -- Data that came with the handshake is reported by the event tl_accept
    -- queued for the child, later in this drain.
  end
end

local idle_sweep

-- Idle timeout (opts.idle_timeout, ms): one timer per server, not per
-- connection. Every half period a sweep walks the server's connections in
-- the core; one that received nothing in this half period nor the one
-- before is closed (so after between 1 and 1.5 idle_timeout). Only
-- connections that did receive something hold a Lua entry (in srv.active
-- or srv.active_prev): an idle connection costs Lua nothing.
function idle_sweep(rt, srv)
  srv.idle_t = nil
  if not srv.s and srv.nconn == 0 then return end
  local cur, prev = srv.active, srv.active_prev
  local st, evs = rt.st, rt.evs
  local victims, vset = {}, {}
  local s = sock.next_user_sock(st, nil)
  while s ~= nil do
    if ids.event_server(s) == srv.id then
      local key = addr_of(s)
      if not cur[key] and not prev[key] then
        local c = evs.conn[key]
        if not (c and c.s == s and (c.closing or c.ending)) then victims[#victims + 1] = key; vset[key] = s end
      end
    end
    s = sock.next_user_sock(st, s)
  end
  srv.active_prev, srv.active = cur, {}
  -- An earlier victim's on_close may end a later one (and free its
  -- handle): finish() takes ended ones out of evs.idle_victims.
  evs.idle_victims = vset
  for i = 1, #victims do
    local key = victims[i]
    s = vset[key]
    if s then
      drop_input(rt, s)
      finish_idle(rt, srv, s, key, "timeout", false)
    end
  end
  evs.idle_victims = nil
  srv.idle_t = rt.timers:push({ deadline = rt.now_us + srv.idle_half_us, fn = idle_sweep, arg = srv })
end

function M.new_server(rt, srv, handlers)
  local idle = srv.opts and srv.opts.idle_timeout
  if idle ~= nil and (type(idle) ~= "number" or idle <= 0) then
    error("listen: opts.idle_timeout must be a positive number of milliseconds", 0)
  end
  for _, k in ipairs({ "on_accept", "on_data", "on_drain", "on_close", "on_end" }) do
    if handlers[k] ~= nil and type(handlers[k]) ~= "function" then
      error("listen: handlers." .. k .. " must be a function", 0)
    end
  end
  for k in pairs(handlers) do
    if k ~= "on_accept" and k ~= "on_data" and k ~= "on_drain" and k ~= "on_close" and k ~= "on_end" then
      error("listen: unknown handler " .. tostring(k) .. " (on_accept, on_data, on_drain, on_end, on_close)", 0)
    end
  end
  srv.handlers = handlers
  srv.nconn = 0
  rt.evs.srv[srv.id] = srv
  if idle then
    srv.active, srv.active_prev = {}, {}
    srv.idle_half_us = idle * 500
    srv.idle_t = rt.timers:push({ deadline = rt.now_us + srv.idle_half_us, fn = idle_sweep, arg = srv })
  end
end

-- A server was closed: forget it once its last connection has ended.
function M.server_closed(rt, srv)
  if srv.nconn == 0 then
    rt.evs.srv[srv.id] = nil
    if srv.idle_t then rt.timers:remove(srv.idle_t); srv.idle_t = nil end
  end
end

-- The Lua object of event connection s if one exists, without making one.
function M.cached(rt, s)
  local c = rt.evs.conn[addr_of(s)]
  if c and c.s == s then return c end
  return nil
end

-- The event connection behind core socket s, or nil (segment hooks).
function M.conn_of(rt, s)
  local id = ids.event_server(s)
  local srv = id and rt.evs.srv[id]
  if srv then return conn_for(rt, srv, s, addr_of(s)) end
  return nil
end

-- Event connections, for shutdown: { conn, ... } (all of them, idle too).
function M.all(rt)
  local list = {}
  local s = sock.next_user_sock(rt.st, nil)
  while s ~= nil do
    list[#list + 1] = M.conn_of(rt, s)
    s = sock.next_user_sock(rt.st, s)
  end
  return list
end

----------------------------------------------------------- methods ------

local function live(c) return c.s ~= nil and not c.ending and not c.closing end

local function enqueue(c, p, off)
  local q = c.wq
  if not q then
    q = { head = 1, tail = 0, off = 0 }
    rawset(c, "wq", q)
    rawset(c, "wq_bytes", 0)
    c.rt.evs.busy[c.key] = c
  end
  if off > 0 then p = p:sub(off + 1) end
  q.tail = q.tail + 1
  q[q.tail] = p
  c.wq_bytes = c.wq_bytes + #p
end

-- send(data): a string or an array of strings. Never waits: what the send
-- buffer cannot take is queued (and on_data paused until it has left).
-- opts.urgent marks the data urgent (RFC 9293 3.8.5, inline, RFC 6093).
-- Returns the number of bytes taken (all of them), or nil, err.
function EvConn:send(data, opts)
  if not live(self) or self.wshut then return nil, "closed" end
  if type(data) == "table" then
    local ok, joined = pcall(table.concat, data)
    if not ok then error("send: expected a string or an array of strings", 2) end
    data = joined
  elseif type(data) == "number" then
    data = tostring(data)
  elseif type(data) ~= "string" then
    error("send: expected a string or an array of strings", 2)
  end
  local len = #data
  if len == 0 then return 0 end
  local urgent = opts and opts.urgent
  if self.wq then
    enqueue(self, data, 0)
    if urgent then self.wq.urg = self.wq.tail end
    return len
  end
  local r = lend.send(self.rt, self.s, data, 0, urgent, self.rt.now_us)
  if r < 0 and r ~= EAGAIN then return nil, errword(r) end
  if r < 0 then r = 0 end
  if r < len then
    enqueue(self, data, r)
    if urgent then self.wq.urg = self.wq.tail end
  end
  return len
end

-- Bytes queued in Lua, waiting for room in the send buffer.
function EvConn:pending() return self.wq_bytes or 0 end

-- Graceful close, lingering (see linger above): queued bytes are still
-- delivered, then FIN; input is dropped from now on. on_close(conn, why)
-- runs when the peer's FIN has come (why nil), the connection was reset
-- ("reset"), or the peer sent no FIN within LINGER_US of ours (nil if it
-- had acknowledged everything, else "timeout").
function EvConn:close()
  if not live(self) then return nil, "closed" end
  rawset(self, "closing", true)
  self.rt.evs.busy[self.key] = self
  linger(self)
  return true
end

-- Abortive close (RST, RFC 9293 3.10.5); queued bytes are dropped.
function EvConn:abort()
  if not self.s or self.ending then return nil, "closed" end
  M.finish(self, "aborted", true)
  return true
end

-- shutdown("send"): FIN once the queued bytes have left; on_data goes on.
function EvConn:shutdown(how)
  how = how or "send"
  base.check_how(how)
  if not live(self) then return nil, "closed" end
  if how == "receive" then return true end
  rawset(self, "wshut", true) -- send() refuses from now on, queue or not
  if self.wq then
    rawset(self, "shut_pending", true)
    return true
  end
  local r = sock.shutdown(self.s, self.rt.now_us)
  if r < 0 then return nil, errword(r) end
  -- Both directions are now closed: nothing is left for the script.
  if self.ended then M.finish(self, nil, false) end
  return true
end

function EvConn:setoption(name, value)
  if not live(self) then return nil, "closed" end
  return base.Base.setoption(self, name, value)
end

local function no_wait(name)
  return function()
    error("conn:" .. name .. " waits, and an event connection cannot: its data arrives in on_data "
      .. "(use listen(port, function(conn) ... end) for the coroutine style)", 2)
  end
end
EvConn.receive = no_wait("receive")
EvConn.receiveany = no_wait("receiveany")
EvConn.peek = no_wait("peek")
EvConn.receiveuntil = no_wait("receiveuntil")
EvConn.settimeout = no_wait("settimeout")
EvConn.settimeouts = no_wait("settimeouts")
function EvConn.on_segment()
  error("conn:on_segment is not available on an event connection (use the listener's opts.on_segment)", 2)
end

return M
