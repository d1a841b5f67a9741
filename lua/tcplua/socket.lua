-- Coroutine connections over the core's TCP API (OpenResty cosocket
-- style). Every operation first tries the non-blocking core call; only
-- when it would block does the calling coroutine wait for the socket's
-- event or its timeout (tcplua.cowait). Listening and the event dispatch
-- are tcplua.server's; what both connection styles share is
-- tcplua.connbase's.
--
-- Data crosses into Lua only when the script reads it: tl_recv copies into
-- the runtime's read buffer and ffi.string makes the returned value.
local sock = require "tcplua.c.sock"
local stream = require "tcplua.c.stream"
local core = require "tcplua.core"
local base = require "tcplua.connbase"
local cowait = require "tcplua.cowait"
local ids = require "tcplua.ids"
local recv = require "tcplua.recv"
local hook = require "tcplua.hook"
local lend = require "tcplua.lend"
local hosts = require "tcplua.hosts"

local M = {}

local errword, EAGAIN = base.errword, stream.EAGAIN
local wait_as, claim, deadline_of, ms_or_nil = cowait.wait_as, cowait.claim, cowait.deadline_of, cowait.ms_or_nil

local Conn = base.class()
M.Conn = Conn

-- A connection object for handle s; owner: the coroutine record whose end
-- closes it.
function M.new_conn(rt, s, owner)
  local c = setmetatable({ rt = rt, s = s, reader = nil, writer = nil, owner = owner,
    t_connect = nil, t_send = nil, t_read = nil }, Conn)
  ids.register(rt, c)
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
  ids.put(rt, c.id, nil)
  c.s = nil
  if c.owner and c.owner.owned then c.owner.owned[c] = nil end
  rt:wake(c.reader, "event")
  rt:wake(c.writer, "event")
end

--------------------------------------------------------------- reading ----

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
  local rcv = sock.getopt(self.s, sock.OPT.rcvbuf)
  if n and rcv and rcv > 0 and n > rcv then
    error("peek: " .. n .. " bytes cannot all be held by the receive buffer (rcvbuf " .. rcv .. ")", 2)
  end
  return recv.peek(self, n, co, rec, deadline_of(self.rt, self.t_read))
end

-- receiveuntil(pattern [, { inclusive = true }]) -> iterator, as
-- OpenResty's: iter() reads up to the pattern, iter(size) in chunks.
function Conn:receiveuntil(pattern, opts)
  if type(pattern) ~= "string" or #pattern == 0 or #pattern > stream.FIND_MAX then
    error("receiveuntil: pattern must be a string of 1 to " .. stream.FIND_MAX .. " bytes", 2)
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

local READ_CHUNK = base.READ_CHUNK

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
    local n = math.min(max, READ_CHUNK, math.max(stream.readable(s), 1))
    local buf = base.buffer(rt, n)
    local r = stream.recv(s, buf, n, rt.now_us)
    if r > 0 then return stream.string(buf, r) end
    if r ~= EAGAIN then return nil, errword(r) end
    if wait_as(self, "reader", co, rec, deadline) == "timeout" then return nil, "timeout" end
  end
end

--------------------------------------------------------------- writing ----

local COALESCE_MAX = 65536

-- The pieces send() writes: small pieces go to the core as one write, as
-- separate small writes would leave all but the first waiting for an ACK
-- under Nagle's algorithm (RFC 896), which with a delayed ACK costs a
-- request 200 ms.
local function pieces_of(data)
  if type(data) ~= "table" then return { data } end
  if #data <= 1 then return data end
  local len = 0
  for i = 1, #data do
    local p = data[i]
    len = len + (type(p) == "string" and #p or 0)
  end
  if len > COALESCE_MAX then return data end
  local ok, joined = pcall(table.concat, data)
  if not ok then error("send: expected a string or an array of strings", 3) end
  return { joined }
end

-- Writes string p whole, waiting while the send buffer is full. Returns
-- the bytes written, and an error word if it stopped short.
local function write_all(c, p, urgent, co, rec, deadline)
  local rt = c.rt
  local len, off = #p, 0
  while off < len do
    local s = c.s
    if not s then return off, "closed" end
    local r = lend.send(rt, s, p, off, urgent, rt.now_us)
    if r > 0 then
      off = off + r
    elseif r < 0 and r ~= EAGAIN then
      return off, errword(r)
    elseif wait_as(c, "writer", co, rec, deadline) == "timeout" then
      return off, "timeout"
    end
  end
  return off
end

-- send(data [, opts]): a string or an array of strings. Waits while the
-- send buffer is full. opts.urgent marks the data urgent (RFC 9293 3.8.5,
-- inline as RFC 6093 says). Returns the number of bytes sent, or nil, err,
-- bytes_sent.
function Conn:send(data, opts)
  local co, rec, err = claim(self, "writer", "conn:send")
  if not co then return nil, err, 0 end
  local deadline = deadline_of(self.rt, self.t_send)
  local pieces = pieces_of(data)
  local urgent = opts and opts.urgent
  -- MSG_MORE: hold a partial segment until a send without it (or the
  -- cork option's own state) releases it.
  local more = opts and opts.more
  if more and not self.more_cork then
    self.more_cork = true
    if not self.user_cork then sock.setopt(self.s, sock.OPT.cork, 1) end
  end
  local total = 0
  for i = 1, #pieces do
    local p = pieces[i]
    if type(p) == "number" then p = tostring(p) end
    if type(p) ~= "string" then error("send: expected a string or an array of strings", 2) end
    local n, werr = write_all(self, p, urgent, co, rec, deadline)
    total = total + n
    if werr then return nil, werr, total end
  end
  if not more and self.more_cork then
    self.more_cork = nil
    if not self.user_cork and self.s then sock.setopt(self.s, sock.OPT.cork, 0) end
  end
  return total
end

--------------------------------------------------------------- closing ----

-- The lingering close, as event connections do it (tcplua.evserver).
-- RFC 9293 3.10.4 / RFC 1122 4.2.2.13: closing with unread input, or with
-- input arriving after the close, resets the connection, and the RST
-- throws away what the send buffer still holds. So until the peer's FIN
-- the closed connection stays in the id registry as a small record (under
-- lsock, not s, so neither segment hooks nor the event loop take it for a
-- conn): its input is read and dropped, its queued bytes and FIN go out,
-- and the core handle is released at the peer's FIN or LINGER_US after
-- close.
local LINGER_US = 5e6
M.LINGER_US = LINGER_US
local drop_input, peer_done = base.drop_input, base.peer_done

local function linger_done(rt, l)
  if not l.lsock then return end
  if l.t then rt.timers:remove(l.t); l.t = nil end
  ids.put(rt, l.id, nil)
  lend.close(rt, l.lsock, rt.now_us)
  l.lsock = nil
end

-- An event on a lingering record's socket.
function M.linger_step(rt, l)
  local s = l.lsock
  drop_input(rt, s)
  if peer_done(s) then return linger_done(rt, l) end
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
  if peer_done(s) then
    lend.close(rt, s, rt.now_us)
    release(self)
    return true
  end
  release(self)
  if sock.shutdown(s, rt.now_us) < 0 then
    lend.close(rt, s, rt.now_us)
    return true
  end
  local l = { lsock = s, id = id }
  ids.put(rt, id, l)
  l.t = rt.timers:push({ deadline = rt.now_us + LINGER_US, fn = linger_expired, arg = l })
  return true
end

-- Closes a lingering record at once (RST): the binary is exiting.
function M.abort_lingering(rt, l)
  lend.abort(rt, l.lsock, rt.now_us)
  l.lsock = nil
  ids.put(rt, l.id, nil)
end

-- How many closed connections still linger (for specs).
function M.lingering(rt)
  local n = 0
  for _, obj in ipairs(ids.all(rt)) do if obj.lsock then n = n + 1 end end
  return n
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
  base.check_how(how)
  if not self.s then return nil, "closed" end
  local rt = self.rt
  if how ~= "send" and not self.rd_shut then
    local r = sock.shutdown_read(self.s, rt.now_us)
    if r < 0 then return nil, errword(r) end
    self.rd_shut = true
    rt:wake(self.reader, "event")   -- a waiting reader gets nil, "closed"
  end
  if how ~= "receive" then
    local r = sock.shutdown(self.s, rt.now_us)
    if r < 0 then return nil, errword(r) end
  end
  return true
end

-- An event on the connection: wake its reader and writer as the mask says.
function M.on_event(c, readable, writable)
  if readable then
    -- After shutdown("receive") input is dropped as it comes.
    if c.rd_shut then stream.recv(c.s, base.buffer(c.rt, 1), 0, c.rt.now_us) end
    c.rt:wake(c.reader, "event")
  end
  if writable then c.rt:wake(c.writer, "event") end
end

---------------------------------------------------------------- others ----

function Conn:settimeout(ms)
  ms = ms_or_nil(ms)
  self.t_connect, self.t_send, self.t_read = ms, ms, ms
  return true
end

function Conn:settimeouts(connect, send, read)
  self.t_connect, self.t_send, self.t_read = ms_or_nil(connect), ms_or_nil(send), ms_or_nil(read)
  return true
end

-- A segment hook for this connection only: fn(seg, dir, conn, now_ms).
function Conn:on_segment(fn)
  if not self.s then return nil, "closed" end
  hook.conn_on_segment(self, fn)
  return true
end

-- Waits for connect's handshake; c on success, else nil, err (c aborted).
local function handshake(rt, c, co, rec, deadline)
  while true do
    if not c.s then return nil, "closed" end
    local e = sock.error(c.s)
    if e ~= 0 then
      c:abort()
      return nil, errword(e)
    end
    local state = sock.state(c.s)
    if state ~= sock.SYN_SENT and state ~= sock.SYN_RECEIVED then
      if state == sock.CLOSED then c:abort(); return nil, "closed" end
      return c
    end
    if wait_as(c, "writer", co, rec, deadline) == "timeout" then
      c:abort()
      return nil, "timeout"
    end
  end
end

-- connect(host, port, opts) -> conn, or nil, err. Waits for the handshake.
function M.connect(rt, host, port, opts)
  local co, rec = rt:current("tcplua.connect")
  local addr, aerr = hosts.resolve(host)
  if not addr then return nil, aerr end
  local v6 = type(addr) == "string"
  if v6 and addr == ("\0"):rep(15) .. "\1" then
    return nil, ("unreachable: %s is ::1, the loopback address, which the stack cannot reach; "
      .. "the host's side of the TUN is %s"):format(tostring(host), rt:config().host6 or "?")
  end
  if not v6 and addr >= 0x7f000000 and addr <= 0x7fffffff then
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
  local s = sock.socket(rt.st)
  if s == nil then return nil, "no memory" end
  local c = M.new_conn(rt, s, rec)
  local ok, oerr = base.apply_opts(s, opts)
  if ok and opts.max_line ~= nil then ok, oerr = base.LUA_OPTS.max_line(c, opts.max_line) end
  if ok and opts.cork then c.user_cork = true end
  if not ok then c:abort(); return nil, oerr end
  local r = (v6 and sock.connect6 or sock.connect)(s, addr, port, sport, rt.now_us)
  if r < 0 then c:abort(); return nil, errword(r) end
  local timeout = ms_or_nil(opts.timeout)
  if timeout then c:settimeout(timeout) end
  return handshake(rt, c, co, rec, deadline_of(rt, timeout))
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

return M
