-- What both connection styles share: coroutine connections
-- (tcplua.socket) and event connections (tcplua.evserver) are made of a
-- core socket handle, c.s, and a runtime, c.rt, and on top of that both
-- have the error words, the FIN states, the runtime's read buffer, the
-- dropping of unwanted input, the socket options, and the methods that
-- only look at the socket (peer, sockname, state, info, options).
-- Base is the class both connection classes inherit these methods from.
local sock = require "tcplua.c.sock"
local stream = require "tcplua.c.stream"
local core = require "tcplua.core"

local M = {}

---------------------------------------------------------------- errors ----

local E = sock.E
local ERRWORD = {
  [E.CLOSED] = "closed", [E.RESET] = "reset", [E.TIMEOUT] = "timeout",
  [E.REFUSED] = "refused", [E.UNREACH] = "unreachable", [E.INVAL] = "invalid",
  [E.ADDRINUSE] = "in use", [E.NOMEM] = "no memory", [E.NOTCONN] = "closed",
  [E.ABORTED] = "aborted",
}

-- The word the Lua API returns for a core error code.
function M.errword(e)
  e = tonumber(e)
  return ERRWORD[e] or core.strerror(e)
end
local errword = M.errword

-- States in which the peer's FIN has arrived: no more data will come.
local FIN_STATES = {
  [sock.CLOSE_WAIT] = true, [sock.CLOSING] = true, [sock.LAST_ACK] = true,
  [sock.TIME_WAIT] = true, [sock.CLOSED] = true,
}
M.FIN_STATES = FIN_STATES

-- Has the peer finished sending (FIN or error)?
function M.peer_done(s)
  return sock.error(s) ~= 0 or FIN_STATES[sock.state(s)] == true
end

-- shutdown(how) takes "send", "receive" or "both" (both styles).
function M.check_how(how)
  if how ~= "send" and how ~= "both" and how ~= "receive" then
    error("shutdown: expected \"send\", \"receive\" or \"both\"", 3)
  end
end

----------------------------------------------------------- read buffer ----

-- The runtime's receive buffer (rt.io), at least n bytes: bytes are
-- copied out of the core into it, and into a Lua string only when they are
-- returned. It grows, never shrinks.
function M.buffer(rt, n)
  local io = rt.io
  if not io then
    io = { cap = 0, buf = nil }
    rt.io = io
  end
  if io.cap < n then
    local cap = math.max(n, io.cap * 2, 65536)
    io.buf = stream.bytes(cap)
    io.cap = cap
  end
  return io.buf
end

local READ_CHUNK = 65536
M.READ_CHUNK = READ_CHUNK

-- Reads and drops whatever input is waiting (a closing connection of
-- either style, a coroutine connection after shutdown("receive")).
function M.drop_input(rt, s)
  while true do
    local n = stream.readable(s)
    if n == 0 then return end
    if n > READ_CHUNK then n = READ_CHUNK end
    if stream.recv(s, M.buffer(rt, n), n, rt.now_us) <= 0 then return end
  end
end

-- "10.77.0.1:53422 -> :7: " for a connection's error reports (the peer,
-- then the local port), "" once it is closed.
function M.label(c)
  if not c or not c.s then return "" end
  local ok, s = pcall(function()
    local rip, rport = c:peer()
    local _, lport = c:sockname()
    return ("%s:%d -> :%d: "):format(rip, rport, lport)
  end)
  return ok and s or ""
end

--------------------------------------------------------------- options ----

local OPT = sock.OPT
M.OPTS = OPT

-- TL_OPT_CONGESTION takes a module name from Lua (core/tcp/tcp_cc.h).
local CC = { reno = 0, newreno = 1, cubic = 2, bbr = 3 }
local CC_NAME = { [0] = "reno", [1] = "newreno", [2] = "cubic", [3] = "bbr" }
-- TL_OPT_RECOVERY: loss detection with SACK (core/tcp/tcp_rack.c).
local RECOVERY = { rack = 0, dupack = 1 }
local RECOVERY_NAME = { [0] = "rack", [1] = "dupack" }

-- The number tl_setopt takes for option name, or nil, err.
local function optvalue(name, value)
  if OPT[name] == OPT.congestion then
    value = CC[value]
    if not value then return nil, "congestion control must be one of bbr, cubic, newreno, reno" end
  elseif OPT[name] == OPT.recovery then
    value = RECOVERY[value]
    if not value then return nil, "recovery must be rack or dupack" end
  end
  if value == true then value = 1 elseif value == false or value == nil then value = 0 end
  if type(value) ~= "number" then return nil, "option " .. name .. " needs a number or boolean" end
  return value
end

local function setopt(s, name, value)
  local opt = OPT[name]
  if not opt then return nil, "unknown option: " .. tostring(name) end
  local v, verr = optvalue(name, value)
  if not v then return nil, verr end
  local r = sock.setopt(s, opt, v)
  if r < 0 then return nil, errword(r) end
  return true
end

-- Sets the core options among opts on s; nil, err names a bad one.
function M.apply_opts(s, opts)
  if not opts then return true end
  for name, value in pairs(opts) do
    if OPT[name] then
      local ok, err = setopt(s, name, value)
      if err == "invalid" then err = "bad value for option " .. name .. ": " .. tostring(value) end
      if not ok then return nil, err end
    end
  end
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

-- A line longer than this (not counting its LF and CR) gives
-- nil, "line too long" (conn:setoption("max_line", n) changes it).
M.MAX_LINE = 65536

-- Options a child does not inherit from its listener: tcp_listen.c copies
-- the others into the child it makes from the SYN.
local NOT_INHERITED = { linger = true }

-- Sets a listener's opts on the listening socket itself: the core checks
-- each value there (so a bad one fails listen, named), and children
-- inherit them from the SYN on, so the handshake's MSS, window scale and
-- congestion control follow them too. Returns what must still be set on
-- each accepted connection as { name, opt, value, ... } (false if
-- nothing), or nil, err.
function M.listener_opts(s, opts)
  local list = {}
  for name, value in pairs(opts) do
    if OPT[name] then
      local ok, err = setopt(s, name, value)
      if not ok then
        if err == "invalid" then err = "bad value for option " .. name .. ": " .. tostring(value) end
        return nil, err
      end
      if NOT_INHERITED[name] then
        list[#list + 1] = name
        list[#list + 1] = OPT[name]
        list[#list + 1] = optvalue(name, value)
      end
    end
  end
  return #list > 0 and list or false
end

-- The options listener_opts left for accepted connection s; a failure is
-- reported (the connection goes on with the stack's defaults).
function M.apply_child_opts(rt, srv, s)
  local list = srv.conn_opts
  if not list then return end
  for i = 1, #list, 3 do
    local r = sock.setopt(s, list[i + 1], list[i + 2])
    if r < 0 then
      rt:error("listen", ("port %d: option %s on an accepted connection: %s"):format(srv.port, list[i], errword(r)))
    end
  end
end

------------------------------------------------------- shared methods ----

-- Introspection and options: the same for both styles (and for a
-- listener's options). Reading, writing and closing are each style's own.
local Base = {}
Base.__index = Base
M.Base = Base

function Base:setoption(name, value)
  if not self.s then return nil, "closed" end
  if LUA_OPTS[name] then return LUA_OPTS[name](self, value) end
  if name == "cork" then
    -- send(..., { more = true }) corks too: the core's flag is the union.
    self.user_cork = value and true or nil
    if self.more_cork then return true end
  end
  return setopt(self.s, name, value)
end

function Base:getoption(name)
  if not self.s then return nil, "closed" end
  if name == "max_line" then return self.max_line or M.MAX_LINE end
  local opt = OPT[name]
  if not opt then return nil, "unknown option: " .. tostring(name) end
  local v = sock.getopt(self.s, opt)
  if opt == OPT.congestion then return CC_NAME[v] end
  if opt == OPT.recovery then return RECOVERY_NAME[v] end
  if opt == OPT.syncookies then
    if v < 0 then return nil, errword(v) end -- not a listener
    return v == 1
  end
  return v
end

-- Addresses as text of either family ("10.77.0.1", "fd77::1").
function Base:peer()
  if not self.s then return nil, "closed" end
  local _, _, ra, rp = sock.addrs(self.s)
  local fam, _, r6 = sock.family(self.s)
  return fam == 6 and core.ip6str(r6) or core.ipstr(ra), rp
end

function Base:sockname()
  if not self.s then return nil, "closed" end
  local la, lp = sock.addrs(self.s)
  local fam, l6 = sock.family(self.s)
  return fam == 6 and core.ip6str(l6) or core.ipstr(la), lp
end

function Base:state()
  if not self.s then return "CLOSED" end
  return sock.state_name(sock.state(self.s))
end

local INFO_U = { "snd_una", "snd_nxt", "snd_wnd", "snd_wl1", "snd_wl2", "iss", "rcv_nxt", "rcv_wnd",
  "irs", "snd_mss", "rcv_mss", "cwnd", "ssthresh", "retransmits", "backoff", "total_retrans",
  "bytes_sent", "bytes_retrans", "bytes_acked", "bytes_received", "segs_in", "segs_out",
  "data_segs_in", "data_segs_out", "unacked", "sndbuf", "sndbuf_used", "rcvbuf", "rcvbuf_used",
  "ooo_bytes", "dupacks", "fast_retrans", "probes", "challenge_acks", "pmtu", "snd_up", "rcv_up" }

-- A table of tl_tcp_info fields under their Linux tcp_info / ss -ti names.
-- Times (srtt, rttvar, rto) are in ms (floats); state is a name.
function Base:info()
  if not self.s then return nil, "closed" end
  local i, r = sock.info(self.s)
  if not i then return nil, errword(r) end
  local t = { state = sock.state_name(i.state) }
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

function Base:__tostring()
  if not self.s then return "tcplua.conn (closed)" end
  local lip, lport = self:sockname()
  local rip, rport = self:peer()
  return string.format("tcplua.conn %s:%d <-> %s:%d %s", lip, lport, rip, rport, self:state())
end

-- A class inheriting Base's methods (metamethods are not inherited through
-- __index, so __tostring is copied).
function M.class()
  local cls = setmetatable({}, { __index = Base })
  cls.__index = cls
  cls.__tostring = Base.__tostring
  return cls
end

return M
