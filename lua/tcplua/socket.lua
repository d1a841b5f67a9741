-- Coroutine sockets over the core's TCP API (OpenResty cosocket style).
-- Every operation first tries the non-blocking core call; only when it
-- would block does the calling coroutine wait for the socket's event (or its
-- timeout). Events are hints: after a wake the call is simply retried.
--
-- Data crosses into Lua only when the script reads it: tl_recv copies into
-- one grow-only buffer per runtime and ffi.string makes the returned value.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local recv = require "tcplua.recv"
local hook = require "tcplua.hook"
local evserver = require "tcplua.evserver"
local lend = require "tcplua.lend"
local hosts = require "tcplua.hosts"

local M = {}

local ERRWORD = {
  [C.TL_ECLOSED] = "closed", [C.TL_ERESET] = "reset", [C.TL_ETIMEOUT] = "timeout",
  [C.TL_EREFUSED] = "refused", [C.TL_EUNREACH] = "unreachable", [C.TL_EINVAL] = "invalid",
  [C.TL_EADDRINUSE] = "in use", [C.TL_ENOMEM] = "no memory", [C.TL_ENOTCONN] = "closed",
  [C.TL_EABORTED] = "aborted",
}
local function errword(e)
  e = tonumber(e)
  return ERRWORD[e] or core.strerror(e)
end
M.errword = errword

local EV_READABLE, EV_WRITABLE, EV_CONNECTED, EV_ACCEPT, EV_CLOSED =
  C.TL_EV_READABLE, C.TL_EV_WRITABLE, C.TL_EV_CONNECTED, C.TL_EV_ACCEPT, C.TL_EV_CLOSED
local band = require("bit").band
local EAGAIN = C.TL_EAGAIN

local OPTS = {
  nodelay = C.TL_OPT_NODELAY, sndbuf = C.TL_OPT_SNDBUF, rcvbuf = C.TL_OPT_RCVBUF,
  keepalive = C.TL_OPT_KEEPALIVE, keepidle = C.TL_OPT_KEEPIDLE_MS,
  keepintvl = C.TL_OPT_KEEPINTVL_MS, keepcnt = C.TL_OPT_KEEPCNT, backlog = C.TL_OPT_BACKLOG,
  mss = C.TL_OPT_MSS, linger = C.TL_OPT_LINGER_MS, user_timeout = C.TL_OPT_USER_TIMEOUT_MS,
  congestion = C.TL_OPT_CONGESTION, recovery = C.TL_OPT_RECOVERY,
  syncookies = C.TL_OPT_SYNCOOKIES,
  timestamps = C.TL_OPT_TIMESTAMPS, sack = C.TL_OPT_SACK, wscale = C.TL_OPT_WSCALE,
  cork = C.TL_OPT_CORK, notsent_lowat = C.TL_OPT_NOTSENT_LOWAT,
}

M.OPTS = OPTS

-- TL_OPT_CONGESTION takes a module name from Lua (core/tcp_cc.h).
local CC = { reno = 0, newreno = 1, cubic = 2 }
local CC_NAME = { [0] = "reno", [1] = "newreno", [2] = "cubic" }
-- TL_OPT_RECOVERY: loss detection with SACK (core/tcp_rack.c).
local RECOVERY = { rack = 0, dupack = 1 }
local RECOVERY_NAME = { [0] = "rack", [1] = "dupack" }

function M.init(rt)
  rt.ev = ffi.new("tl_event")
  rt.bufcap = 0
  rt.buf = nil
  rt.addr_out = ffi.new("uint32_t[2]")
  rt.port_out = ffi.new("uint16_t[2]")
  rt.info_out = ffi.new("tl_tcp_info")
  rt.err_out = ffi.new("int[1]")
  evserver.init(rt)
end

local function new_id(rt, obj)
  rt.next_id = rt.next_id + 1
  rt.socks[rt.next_id] = obj
  obj.id = rt.next_id
  C.tl_sock_set_user(obj.s, rt.next_id)
  return rt.next_id
end

-- The number tl_setopt takes for option name, or nil, err.
local function optvalue(name, value)
  if OPTS[name] == C.TL_OPT_CONGESTION then
    value = CC[value]
    if not value then return nil, "congestion control must be one of cubic, newreno, reno" end
  elseif OPTS[name] == C.TL_OPT_RECOVERY then
    value = RECOVERY[value]
    if not value then return nil, "recovery must be rack or dupack" end
  end
  if value == true then value = 1 elseif value == false or value == nil then value = 0 end
  if type(value) ~= "number" then return nil, "option " .. name .. " needs a number or boolean" end
  return value
end

local function setopt(s, name, value)
  local opt = OPTS[name]
  if not opt then return nil, "unknown option: " .. tostring(name) end
  local v, verr = optvalue(name, value)
  if not v then return nil, verr end
  local r = C.tl_setopt(s, opt, v)
  if r < 0 then return nil, errword(r) end
  return true
end

local function apply_opts(s, opts)
  if not opts then return true end
  for name, value in pairs(opts) do
    if OPTS[name] then
      local ok, err = setopt(s, name, value)
      if err == "invalid" then err = "bad value for option " .. name .. ": " .. tostring(value) end
      if not ok then return nil, err end
    end
  end
  return true
end

------------------------------------------------------------- conn -------

local Conn = {}
Conn.__index = Conn
M.Conn = Conn

local function new_conn(rt, s, owner)
  local c = setmetatable({ rt = rt, s = s, reader = nil, writer = nil, owner = owner,
    t_connect = nil, t_send = nil, t_read = nil }, Conn)
  new_id(rt, c)
  if owner then
    owner.owned = owner.owned or {}
    owner.owned[c] = true
  end
  return c
end

-- Forgets the handle (after tl_close/tl_abort) and wakes whoever waits on it.
local function release(c)
  local rt = c.rt
  hook.conn_released(c)
  rt.socks[c.id] = nil
  c.s = nil
  if c.owner and c.owner.owned then c.owner.owned[c] = nil end
  rt:wake(c.reader, "event")
  rt:wake(c.writer, "event")
end

-- Ends of a wait: ms left from a deadline (nil = forever).
local function remaining(rt, deadline)
  if not deadline then return nil end
  local left = (deadline - rt.now_us) / 1000
  return left > 0 and left or 0
end

local function deadline_of(rt, ms)
  if ms == nil or ms < 0 then return nil end
  return rt.now_us + ms * 1000
end

-- Waits as reader/writer ("reader" or "writer" field); returns "event" or
-- "timeout".
local function wait_as(c, role, co, rec, deadline)
  c[role] = co
  -- tcplua.kill frees the role of a thread killed while it waits here.
  rec.wc, rec.wrole = c, role
  local why = c.rt:wait(co, rec, remaining(c.rt, deadline))
  rec.wc, rec.wrole = nil, nil
  c[role] = nil
  return why
end

recv.setup(errword, wait_as)

local function claim(c, role, name)
  local rt = c.rt
  local co, rec = rt:current(name)
  if not c.s then return nil, nil, "closed" end
  if role == "reader" and c.rd_shut then return nil, nil, "closed" end
  if c[role] and c[role] ~= co then return nil, nil, "busy" end
  return co, rec
end

-- receive(pattern): "*l" (default) a line without its LF (and CR), "*a"
-- everything until the peer's FIN, or a byte count. Returns the data, or
-- nil, err, partial.
function Conn:receive(pattern)
  local co, rec, err = claim(self, "reader", "conn:receive")
  if not co then return nil, err, "" end
  local deadline = deadline_of(self.rt, self.t_read)
  pattern = pattern or "*l"
  if type(pattern) == "number" then
    if pattern < 0 or pattern ~= math.floor(pattern) then error("receive: bad byte count " .. pattern, 2) end
    if pattern == 0 then return "" end
    return recv.count(self, pattern, co, rec, deadline)
  elseif pattern == "*l" or pattern == "l" then
    return recv.line(self, co, rec, deadline)
  elseif pattern == "*a" or pattern == "a" then
    return recv.all(self, co, rec, deadline)
  end
  error("receive: bad pattern " .. tostring(pattern) .. " (use \"*l\", \"*a\" or a byte count)", 2)
end

-- peek([n]): the next n bytes (or whatever is there, waiting for at least
-- one), left in the stream for the next receive.
function Conn:peek(n)
  if n ~= nil then
    n = tonumber(n)
    if not n or n < 1 or n % 1 ~= 0 then error("peek: n must be a positive integer", 2) end
  end
  local co, rec, err = claim(self, "reader", "conn:peek")
  if not co then return nil, err, "" end
  local rcv = tonumber(C.tl_getopt(self.s, C.TL_OPT_RCVBUF))
  if n and rcv and rcv > 0 and n > rcv then
    error("peek: " .. n .. " bytes cannot all be held by the receive buffer (rcvbuf " .. rcv .. ")", 2)
  end
  return recv.peek(self, n, co, rec, deadline_of(self.rt, self.t_read))
end

-- receiveuntil(pattern [, { inclusive = true }]) -> iterator, as
-- OpenResty's: iter() reads up to the pattern, iter(size) in chunks.
function Conn:receiveuntil(pattern, opts)
  if type(pattern) ~= "string" or #pattern == 0 or #pattern > C.TL_FIND_MAX then
    error("receiveuntil: pattern must be a string of 1 to " .. C.TL_FIND_MAX .. " bytes", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("receiveuntil: options must be a table", 2) end
  local st = { pat = pattern, incl = opts and opts.inclusive and true or false, done = false }
  local c = self
  return function(size)
    if size ~= nil then
      size = tonumber(size)
      if not size or size < 1 or size % 1 ~= 0 then error("receiveuntil iterator: size must be a positive integer", 2) end
    end
    local co, rec, err = claim(c, "reader", "the receiveuntil iterator")
    if not co then return nil, err, "" end
    return recv.until_read(c, st, size, co, rec, deadline_of(c.rt, c.t_read))
  end
end

local READ_CHUNK = 65536

-- receiveany(max): whatever is there (at most max bytes, and at most
-- READ_CHUNK at a time), waiting only when nothing is.
function Conn:receiveany(max)
  max = tonumber(max)
  if not max or max < 1 then error("receiveany: max must be a positive number", 2) end
  local co, rec, err = claim(self, "reader", "conn:receiveany")
  if not co then return nil, err end
  local rt = self.rt
  local deadline = deadline_of(rt, self.t_read)
  while true do
    local s = self.s
    if not s then return nil, "closed" end
    -- At most READ_CHUNK per call: larger strings fall outside LuaJIT's
    -- allocator arena (mmap'd and page-faulted afresh each time), which
    -- halved bulk receive (docs/performance.md).
    local n = math.min(max, READ_CHUNK, math.max(tonumber(C.tl_readable(s)), 1))
    local buf = recv.buffer(rt, n)
    local r = tonumber(C.tl_recv(s, buf, n, rt.now_us))
    if r > 0 then return ffi.string(buf, r) end
    if r ~= EAGAIN then return nil, errword(r) end
    if wait_as(self, "reader", co, rec, deadline) == "timeout" then return nil, "timeout" end
  end
end

local COALESCE_MAX = 65536

-- send(data [, opts]): a string or an array of strings. Waits while the
-- send buffer is full. opts.urgent marks the data urgent (RFC 9293 3.8.5,
-- inline as RFC 6093 says). Returns the number of bytes sent, or nil, err,
-- bytes_sent.
function Conn:send(data, opts)
  local co, rec, err = claim(self, "writer", "conn:send")
  if not co then return nil, err, 0 end
  local rt = self.rt
  local deadline = deadline_of(rt, self.t_send)
  local pieces = data
  if type(data) ~= "table" then
    pieces = { data }
  elseif #data > 1 then
    -- Small pieces go to the core as one write: separate small writes would
    -- leave all but the first waiting for an ACK under Nagle's algorithm
    -- (RFC 896), which with a delayed ACK costs a request 200 ms.
    local len = 0
    for i = 1, #data do
      local p = data[i]
      len = len + (type(p) == "string" and #p or 0)
    end
    if len <= COALESCE_MAX then
      local ok, joined = pcall(table.concat, data)
      if not ok then error("send: expected a string or an array of strings", 2) end
      pieces = { joined }
    end
  end
  local urgent = opts and opts.urgent
  -- MSG_MORE: hold a partial segment until a send without it (or the
  -- cork option's own state) releases it.
  local more = opts and opts.more
  if more and not self.more_cork then
    self.more_cork = true
    if not self.user_cork then C.tl_setopt(self.s, C.TL_OPT_CORK, 1) end
  end
  local total = 0
  for i = 1, #pieces do
    local p = pieces[i]
    if type(p) == "number" then p = tostring(p) end
    if type(p) ~= "string" then error("send: expected a string or an array of strings", 2) end
    local len, off = #p, 0
    local ptr = ffi.cast("const uint8_t *", p)
    while off < len do
      local s = self.s
      if not s then return nil, "closed", total end
      local r
      if urgent then
        r = tonumber(C.tl_send_urgent(s, ptr + off, len - off, rt.now_us))
      else
        r = tonumber(lend.send(rt, s, p, ptr + off, len - off, rt.now_us))
      end
      if r > 0 then
        off = off + r
        total = total + r
      elseif r < 0 and r ~= EAGAIN then
        return nil, errword(r), total
      elseif wait_as(self, "writer", co, rec, deadline) == "timeout" then
        return nil, "timeout", total
      end
    end
  end
  if not more and self.more_cork then
    self.more_cork = nil
    if not self.user_cork and self.s then C.tl_setopt(self.s, C.TL_OPT_CORK, 0) end
  end
  return total
end

-- The lingering close, as event connections do it (tcplua.evserver).
-- RFC 9293 3.10.4 / RFC 1122 4.2.2.13: closing with unread input, or with
-- input arriving after the close, resets the connection, and the RST
-- throws away what the send buffer still holds. So until the peer's FIN
-- the closed connection stays in rt.socks as a small record (under lsock,
-- not s, so neither segment hooks nor the event loop take it for a conn):
-- its input is read and dropped, its queued bytes and FIN go out, and the
-- core handle is released at the peer's FIN or LINGER_US after close.
local LINGER_US, PEER_FIN, drop_input = evserver.LINGER_US, evserver.FIN_STATES, evserver.drop_input

local function linger_done(rt, l)
  if not l.lsock then return end
  if l.t then rt.timers:remove(l.t); l.t = nil end
  rt.socks[l.id] = nil
  lend.close(rt, l.lsock, rt.now_us)
  l.lsock = nil
end

local function linger_step(rt, l)
  local s = l.lsock
  drop_input(rt, s)
  if C.tl_sock_error(s) ~= 0 or PEER_FIN[C.tl_sock_state(s)] then return linger_done(rt, l) end
end

local function linger_expired(rt, l)
  l.t = nil
  if l.lsock then drop_input(rt, l.lsock) end
  linger_done(rt, l)
end

-- Graceful close: lingering (above) while the peer may still send, else
-- at once.
function Conn:close()
  if not self.s then return nil, "closed" end
  local rt, s, id = self.rt, self.s, self.id
  drop_input(rt, s)
  if C.tl_sock_error(s) ~= 0 or PEER_FIN[C.tl_sock_state(s)] then
    lend.close(rt, s, rt.now_us)
    release(self)
    return true
  end
  release(self)
  if tonumber(C.tl_shutdown(s, rt.now_us)) < 0 then
    lend.close(rt, s, rt.now_us)
    return true
  end
  local l = { lsock = s, id = id }
  rt.socks[id] = l
  l.t = rt.timers:push({ deadline = rt.now_us + LINGER_US, fn = linger_expired, arg = l })
  return true
end

-- Abortive close (RST, RFC 9293 3.10.5).
function Conn:abort()
  if not self.s then return nil, "closed" end
  lend.abort(self.rt, self.s, self.rt.now_us)
  release(self)
  return true
end

-- shutdown("send") sends FIN after the queued data; "receive" is SHUT_RD
-- (reads return nil, "closed"; what arrives is acknowledged and dropped;
-- TCP has no way to tell the peer); "both" does both.
function Conn:shutdown(how)
  how = how or "send"
  evserver.check_how(how)
  if not self.s then return nil, "closed" end
  local rt = self.rt
  if how ~= "send" and not self.rd_shut then
    local r = C.tl_shutdown_read(self.s, rt.now_us)
    if r < 0 then return nil, errword(r) end
    self.rd_shut = true
    rt:wake(self.reader, "event")   -- a waiting reader gets nil, "closed"
  end
  if how ~= "receive" then
    local r = C.tl_shutdown(self.s, rt.now_us)
    if r < 0 then return nil, errword(r) end
  end
  return true
end

local function ms_or_nil(v)
  if v == nil or v == false then return nil end
  v = tonumber(v)
  if not v or v < 0 then return nil end
  return v
end

function Conn:settimeout(ms)
  ms = ms_or_nil(ms)
  self.t_connect, self.t_send, self.t_read = ms, ms, ms
  return true
end

function Conn:settimeouts(connect, send, read)
  self.t_connect, self.t_send, self.t_read = ms_or_nil(connect), ms_or_nil(send), ms_or_nil(read)
  return true
end

-- Options the Lua layer keeps itself (no core counterpart).
local LUA_OPTS = {
  max_line = function(c, v)
    v = tonumber(v)
    if not v or v < 1 or v % 1 ~= 0 then return nil, "bad value for option max_line: " .. tostring(v) end
    c.max_line = v
    return true
  end,
}
M.LUA_OPTS = LUA_OPTS

function Conn:setoption(name, value)
  if not self.s then return nil, "closed" end
  if LUA_OPTS[name] then return LUA_OPTS[name](self, value) end
  if name == "cork" then
    -- send(..., { more = true }) corks too: the core's flag is the union.
    self.user_cork = value and true or nil
    if self.more_cork then return true end
  end
  return setopt(self.s, name, value)
end

function Conn:getoption(name)
  if not self.s then return nil, "closed" end
  if name == "max_line" then return self.max_line or recv.MAX_LINE end
  local opt = OPTS[name]
  if not opt then return nil, "unknown option: " .. tostring(name) end
  local v = tonumber(C.tl_getopt(self.s, opt))
  if opt == C.TL_OPT_CONGESTION then return CC_NAME[v] end
  if opt == C.TL_OPT_RECOVERY then return RECOVERY_NAME[v] end
  if opt == C.TL_OPT_SYNCOOKIES then
    if v < 0 then return nil, errword(v) end -- not a listener
    return v == 1
  end
  return v
end

local function addrs(c)
  local rt = c.rt
  C.tl_sock_addrs(c.s, rt.addr_out, rt.port_out, rt.addr_out + 1, rt.port_out + 1)
  return rt.addr_out, rt.port_out
end

function Conn:peer()
  if not self.s then return nil, "closed" end
  local a, p = addrs(self)
  return core.ipstr(a[1]), p[1]
end

function Conn:sockname()
  if not self.s then return nil, "closed" end
  local a, p = addrs(self)
  return core.ipstr(a[0]), p[0]
end

function Conn:state()
  if not self.s then return "CLOSED" end
  return ffi.string(C.tl_state_name(C.tl_sock_state(self.s)))
end

local INFO_U = { "snd_una", "snd_nxt", "snd_wnd", "snd_wl1", "snd_wl2", "iss", "rcv_nxt", "rcv_wnd",
  "irs", "snd_mss", "rcv_mss", "cwnd", "ssthresh", "retransmits", "backoff", "total_retrans",
  "bytes_sent", "bytes_retrans", "bytes_acked", "bytes_received", "segs_in", "segs_out",
  "data_segs_in", "data_segs_out", "unacked", "sndbuf", "sndbuf_used", "rcvbuf", "rcvbuf_used",
  "ooo_bytes", "dupacks", "fast_retrans", "probes", "challenge_acks", "pmtu", "snd_up", "rcv_up" }

-- A table of tl_tcp_info fields under their Linux tcp_info / ss -ti names.
-- Times (srtt, rttvar, rto) are in ms (floats); state is a name.
function Conn:info()
  if not self.s then return nil, "closed" end
  local i = self.rt.info_out
  local r = C.tl_sock_info(self.s, i)
  if r < 0 then return nil, errword(r) end
  local t = { state = ffi.string(C.tl_state_name(i.state)) }
  for _, k in ipairs(INFO_U) do t[k] = tonumber(i[k]) end
  t.mss = t.snd_mss
  t.srtt = tonumber(i.srtt_us) / 1000
  t.rttvar = tonumber(i.rttvar_us) / 1000
  t.rto = tonumber(i.rto_us) / 1000
  t.nodelay = i.nodelay ~= 0
  t.keepalive = i.keepalive ~= 0
  t.last_error = i.last_error ~= 0 and errword(i.last_error) or nil
  local lip, lport = self:sockname()
  local rip, rport = self:peer()
  t.local_addr, t.local_port, t.peer_addr, t.peer_port = lip, lport, rip, rport
  return t
end

-- A segment hook for this connection only: fn(seg, dir, conn, now_ms).
function Conn:on_segment(fn)
  if not self.s then return nil, "closed" end
  hook.conn_on_segment(self, fn)
  return true
end

function Conn:__tostring()
  if not self.s then return "tcplua.conn (closed)" end
  local lip, lport = self:sockname()
  local rip, rport = self:peer()
  return string.format("tcplua.conn %s:%d <-> %s:%d %s", lip, lport, rip, rport, self:state())
end

------------------------------------------------------------ server ------

local Server = {}
Server.__index = Server
M.Server = Server

function Server:close()
  if not self.s then return nil, "closed" end
  C.tl_close(self.s, self.rt.now_us)
  self.rt.socks[self.id] = nil
  self.s = nil
  hook.remove_listener(self.rt, self)
  if self.handlers then evserver.server_closed(self.rt, self) end
  return true
end

function Server:sockname()
  if not self.s then return nil, "closed" end
  return self.rt.api.config().addr, self.port
end

-- Options of the listening socket (backlog, syncookies, and the defaults
-- its connections inherit from the next SYN on).
Server.setoption = Conn.setoption
Server.getoption = Conn.getoption

-- Options a child does not inherit from its listener: tcp_listen.c copies
-- the others into the child it makes from the SYN.
local NOT_INHERITED = { linger = true }

-- Sets a listener's opts on the listening socket itself: the core checks
-- each value there (so a bad one fails listen, named), and children
-- inherit them from the SYN on, so the handshake's MSS, window scale and
-- congestion control follow them too. Returns what must still be set on
-- each accepted connection as { name, opt, value, ... } (false if
-- nothing), or nil, err.
local function listener_opts(s, opts)
  local list = {}
  for name, value in pairs(opts) do
    if OPTS[name] then
      local ok, err = setopt(s, name, value)
      if not ok then
        if err == "invalid" then err = "bad value for option " .. name .. ": " .. tostring(value) end
        return nil, err
      end
      if NOT_INHERITED[name] then
        list[#list + 1] = name
        list[#list + 1] = OPTS[name]
        list[#list + 1] = optvalue(name, value)
      end
    end
  end
  return #list > 0 and list or false
end

-- The options listener_opts left for accepted connection s; a failure is
-- reported (the connection goes on with the stack's defaults).
local function apply_child_opts(rt, srv, s)
  local list = srv.conn_opts
  if not list then return end
  for i = 1, #list, 3 do
    local r = C.tl_setopt(s, list[i + 1], list[i + 2])
    if r < 0 then
      rt:error("listen", ("port %d: option %s on an accepted connection: %s"):format(srv.port, list[i], errword(r)))
    end
  end
end

evserver.setup(errword, Conn, apply_child_opts)

local function accept_all(rt, srv)
  while srv.s do
    local s = C.tl_accept(srv.s)
    if s == nil then break end
    -- The handler coroutine owns the connection: when the handler returns
    -- it is closed gracefully, when it raises it is aborted.
    local rec = { what = "connection handler" }
    local c = new_conn(rt, s, rec)
    rec.conn = c
    c.max_line = srv.max_line
    apply_child_opts(rt, srv, s)
    rt:_spawn(rec, srv.handler, c)
  end
end

-- listen(port, handler, opts) -> server, or nil, err. handler: a function
-- (run in a coroutine per connection) or a table of event callbacks
-- (tcplua.evserver).
function M.listen(rt, port, handler, opts)
  if type(port) ~= "number" or port < 1 or port > 65535 or port % 1 ~= 0 then
    error("listen: port must be an integer 1..65535", 3)
  end
  if type(handler) ~= "function" and type(handler) ~= "table" then
    error("listen: handler must be a function or a table of callbacks (on_data, ...)", 3)
  end
  opts = opts or {}
  local err = rt.err_out
  err[0] = 0
  -- Backlog 0: the stack's default, unless opts.backlog sets it below.
  local s = C.tl_listen(rt.st, port, 0, err)
  if s == nil then return nil, errword(err[0]) end
  if opts.max_line ~= nil then
    local v = tonumber(opts.max_line)
    if not v or v < 1 or v % 1 ~= 0 then
      C.tl_close(s, rt.now_us)
      return nil, "bad value for option max_line: " .. tostring(opts.max_line)
    end
  end
  local copts, oerr = listener_opts(s, opts)
  if copts == nil then
    C.tl_close(s, rt.now_us)
    return nil, oerr
  end
  local srv = setmetatable({ rt = rt, s = s, port = port, handler = handler, opts = opts,
    conn_opts = copts, max_line = opts.max_line }, Server)
  new_id(rt, srv)
  srv.is_server = true
  if type(handler) == "table" then
    local ok, herr = pcall(evserver.new_server, rt, srv, handler)
    if not ok then
      srv:close()
      error(herr, 2)
    end
  end
  local ok, herr = pcall(hook.add_listener, rt, srv)
  if not ok then
    srv:close()
    error(herr, 2)
  end
  return srv
end

-- connect(host, port, opts) -> conn, or nil, err. Waits for the handshake.
function M.connect(rt, host, port, opts)
  local co, rec = rt:current("tcplua.connect")
  local addr, aerr = hosts.resolve(host)
  if not addr then return nil, aerr end
  if addr >= 0x7f000000 and addr <= 0x7fffffff then
    -- The stack's only link is the TUN: loopback is the host's own.
    return nil, ("unreachable: %s is %s, a loopback address, which the stack cannot reach; "
      .. "the host's side of the TUN is %s"):format(tostring(host), core.ipstr(addr), rt:config().host or "?")
  end
  if type(port) ~= "number" or port < 1 or port > 65535 then return nil, "bad port" end
  opts = opts or {}
  local sport = opts.sport or opts.local_port or 0
  if type(sport) ~= "number" or sport < 0 or sport > 65535 or sport % 1 ~= 0 then
    return nil, "bad value for option sport: " .. tostring(sport)
  end
  -- Every option is set on the socket before its SYN (tl_socket, then
  -- tl_connect_sock): MSS, buffers and so the window scale, timestamps,
  -- SACK, congestion control all shape the handshake.
  local s = C.tl_socket(rt.st)
  if s == nil then return nil, "no memory" end
  local c = new_conn(rt, s, rec)
  local ok, oerr = apply_opts(s, opts)
  if ok and opts.max_line ~= nil then ok, oerr = LUA_OPTS.max_line(c, opts.max_line) end
  if ok and opts.cork then c.user_cork = true end
  if not ok then c:abort(); return nil, oerr end
  local r = tonumber(C.tl_connect_sock(s, addr, port, sport, rt.now_us))
  if r < 0 then c:abort(); return nil, errword(r) end
  local timeout = ms_or_nil(opts.timeout)
  if timeout then c:settimeout(timeout) end
  local deadline = deadline_of(rt, timeout)
  while true do
    if not c.s then return nil, "closed" end
    local e = C.tl_sock_error(c.s)
    if e ~= 0 then
      c:abort()
      return nil, errword(e)
    end
    local state = C.tl_sock_state(c.s)
    if state ~= C.TL_SYN_SENT and state ~= C.TL_SYN_RECEIVED then
      if state == C.TL_CLOSED then c:abort(); return nil, "closed" end
      return c
    end
    if wait_as(c, "writer", co, rec, deadline) == "timeout" then
      c:abort()
      return nil, "timeout"
    end
  end
end

------------------------------------------------------------ events -------

local EVBASE, evservice, evaccept = evserver.EVBASE, evserver.service, evserver.accept_all

-- Dispatches every pending socket event. Returns true if there were any.
function M.drain_events(rt)
  local st, ev, socks, evsrv = rt.st, rt.ev, rt.socks, rt.evsrv
  local any = false
  while C.tl_next_event(st, ev) ~= 0 do
    any = true
    local id = tonumber(ev.user)
    -- The peer may have acknowledged lent bytes (tcplua.lend).
    if rt.lent_n and rt.lent_n > 0 then lend.event(rt, ev.sock) end
    -- Event connections are told apart before socks is indexed: a user
    -- word that large as a key of socks stops the JIT (NYI: mixed
    -- sparse/dense table) and made event servers slower than coroutines.
    if id >= EVBASE then
      local srv = evsrv[id - EVBASE]
      if srv then evservice(rt, srv, ev.sock) end
    else
      local obj = socks[id]
      if obj and obj.lsock == ev.sock then
        linger_step(rt, obj)
      elseif obj and obj.s == ev.sock then
        local mask = ev.mask
        if obj.is_server then
          if band(mask, EV_ACCEPT) ~= 0 then
            if obj.handlers then evaccept(rt, obj) else accept_all(rt, obj) end
          end
        else
          if band(mask, EV_READABLE + EV_CLOSED) ~= 0 then
            -- After shutdown("receive") input is dropped as it comes.
            if obj.rd_shut then C.tl_recv(obj.s, recv.buffer(rt, 1), 0, rt.now_us) end
            rt:wake(obj.reader, "event")
          end
          if band(mask, EV_WRITABLE + EV_CONNECTED + EV_CLOSED) ~= 0 then rt:wake(obj.writer, "event") end
        end
      end
    end
  end
  return any
end

-- A coroutine that made connections with connect() and ended without
-- closing them: close them gracefully (or abort, if it raised an error).
function M.release_owned(rt, rec, ok)
  local owned = rec.owned
  if not owned then return end
  rec.owned = nil
  for c in pairs(owned) do
    if c.s and c.rt == rt then
      if ok then c:close() else c:abort() end
    end
  end
end

function M.shutdown_all(rt)
  for _, c in ipairs(evserver.all(rt)) do c:abort() end
  local list = {}
  for _, obj in pairs(rt.socks) do list[#list + 1] = obj end
  for _, obj in ipairs(list) do
    if obj.is_server then obj:close() elseif obj.s then obj:abort()
    elseif obj.lsock then lend.abort(rt, obj.lsock, rt.now_us); obj.lsock = nil; rt.socks[obj.id] = nil end
  end
end

return M
