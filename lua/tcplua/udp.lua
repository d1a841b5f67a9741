-- UDP sockets (RFC 768) in LuaSocket's vocabulary: tcplua.udp([opts])
-- returns a socket; setsockname/setpeername bind and connect it,
-- sendto/send send one datagram each, receivefrom/receive take one,
-- waiting in a tcplua coroutine up to settimeout's limit. A socket made
-- with opts.on_datagram is event style instead: each datagram is handed to
-- on_datagram(sock, data, ip, port) as it arrives, no coroutine needed.
-- Datagrams wait in the core's bounded queue per socket (core/udp/); the
-- stack's UDP events are drained here on each runtime step.
local cudp = require "tcplua.c.udp"
local core = require "tcplua.core"
local ids = require "tcplua.ids"
local hosts = require "tcplua.hosts"
local cowait = require "tcplua.cowait"
local base = require "tcplua.connbase"
local band = require("bit").band
local traceback = debug.traceback

local M = {}

local errword, ms_or_nil, deadline_of, wait_as = base.errword, cowait.ms_or_nil, cowait.deadline_of, cowait.wait_as

local EAGAIN = cudp.EAGAIN

local Udp = {}
Udp.__index = Udp
M.Udp = Udp

function M.init(rt) rt.udp = { ev = cudp.new_event(), socks = {} } end

local V4MAPPED = ("\0"):rep(10) .. "\255\255"
local ANY = ("\0"):rep(16)

-- The 16-byte address of host ("10.77.0.1", "fd77::1", a hosts-file
-- name), IPv4 mapped (::ffff:a.b.c.d) as the core takes it; or nil, err.
local function resolve(host)
  if type(host) ~= "string" and type(host) ~= "number" then return nil, "bad address: " .. tostring(host) end
  local a, err = hosts.resolve(host)
  if not a then return nil, err end
  if type(a) == "number" then
    return V4MAPPED .. string.char(math.floor(a / 16777216) % 256, math.floor(a / 65536) % 256,
      math.floor(a / 256) % 256, a % 256)
  end
  return a
end

-- 16 bytes -> text: an IPv4-mapped address as its dotted quad (a reply
-- goes back over IPv4), else RFC 5952's form.
local function addrstr(a)
  if a:sub(1, 12) == V4MAPPED then return ("%d.%d.%d.%d"):format(a:byte(13, 16)) end
  return core.ip6str(a)
end

local function check_port(port, name, zero_ok)
  if type(port) ~= "number" or port % 1 ~= 0 or port < (zero_ok and 0 or 1) or port > 65535 then
    error(name .. ": port must be an integer " .. (zero_ok and 0 or 1) .. "..65535", 3)
  end
end

-- tcplua.udp(opts): opts.on_datagram (event style), opts.on_error(sock,
-- err) (an ICMP error on a connected event socket), opts.port and
-- opts.host (bind at once), opts.rcvbuf, opts.checksum (false: send none),
-- opts.timeout (ms, as settimeout).
function M.new(rt, opts)
  if opts ~= nil and type(opts) ~= "table" then error("udp: options must be a table", 2) end
  opts = opts or {}
  if opts.on_datagram ~= nil and type(opts.on_datagram) ~= "function" then
    error("udp: on_datagram must be a function(sock, data, ip, port)", 2)
  end
  local u, e = cudp.open(rt:need_stack())
  if not u then return nil, errword(e) end
  local self = setmetatable({ rt = rt, u = u, on_datagram = opts.on_datagram, on_error = opts.on_error,
    timeout = ms_or_nil(opts.timeout), reader = nil }, Udp)
  ids.register_udp(rt, self)
  rt.udp.socks[self] = true
  for _, name in ipairs({ "rcvbuf", "checksum" }) do
    if opts[name] ~= nil then
      local ok, err = self:setoption(name, opts[name])
      if not ok then self:close(); return nil, err end
    end
  end
  if opts.port then
    local ok, err = self:setsockname(opts.host or "*", opts.port)
    if not ok then self:close(); return nil, err end
  end
  return self
end

-- setsockname(addr, port): a wildcard ("*", "0.0.0.0" or "::"; it
-- receives both families) or one of the stack's own addresses (then only
-- its family); port 0 picks an ephemeral one. true, or nil, err.
function Udp:setsockname(addr, port)
  check_port(port, "setsockname", true)
  if not self.u then return nil, "closed" end
  local a
  if addr ~= "*" then
    local err
    a, err = resolve(addr)
    if not a then return nil, err end
    if a == V4MAPPED .. "\0\0\0\0" then a = nil end
  end
  self.any6 = a == ANY
  local r = cudp.bind(self.u, a, port)
  if r < 0 then
    if r == cudp.E.INVAL then return nil, "already bound, or not this stack's address" end
    return nil, errword(r)
  end
  return true
end

-- setpeername(host, port): only host:port's datagrams arrive, send needs
-- no address, and ICMP errors about what was sent are reported ("refused").
-- setpeername("*") forgets the peer.
function Udp:setpeername(host, port)
  if not self.u then return nil, "closed" end
  if host == "*" then
    cudp.connect(self.u, nil, 0)
    return true
  end
  check_port(port, "setpeername")
  local a, err = resolve(host)
  if not a then return nil, err end
  local r = cudp.connect(self.u, a, port)
  if r == cudp.E.INVAL then return nil, "address family not reachable from this socket: " .. tostring(host) end
  if r < 0 then return nil, errword(r) end
  return true
end

-- A wildcard socket reads as the stack's IPv4 address (as before IPv6),
-- or "::" when it was bound as "::".
function Udp:getsockname()
  if not self.u then return nil, "closed" end
  local la, lp = cudp.addrs(self.u)
  if la == ANY then
    if self.any6 then return "::", lp end
    if lp == 0 then return "0.0.0.0", 0 end
    return self.rt:config().addr, lp
  end
  return addrstr(la), lp
end

function Udp:getpeername()
  if not self.u then return nil, "closed" end
  local _, _, ra, rp = cudp.addrs(self.u)
  if ra == ANY then return nil, "not connected" end
  return addrstr(ra), rp
end

local function send_to(self, data, addr, port)
  if not self.u then return nil, "closed" end
  if type(data) ~= "string" then data = tostring(data) end
  if #data > cudp.MAX then return nil, "datagram too large (at most " .. cudp.MAX .. " bytes)" end
  local r = cudp.sendto(self.u, data, addr, port, self.rt.now_us)
  if r < 0 then
    if r == cudp.E.NOTCONN then return nil, "not connected" end
    if r == cudp.E.INVAL and addr then
      return nil, "address family not reachable from this socket: " .. addrstr(addr)
    end
    return nil, errword(r)
  end
  return true
end

-- sendto(data, host, port): one datagram; true, or nil, err.
function Udp:sendto(data, host, port)
  check_port(port, "sendto")
  local a, err = resolve(host)
  if not a then return nil, err end
  if a == ANY or a == V4MAPPED .. "\0\0\0\0" then return nil, "bad address: " .. tostring(host) end
  return send_to(self, data, a, port)
end

-- send(data): one datagram to the peer set by setpeername.
function Udp:send(data) return send_to(self, data, nil, 0) end

-- One datagram now (data, ip, port), or nil, err ("timeout": none queued).
local function take(self, size)
  local data, a, p = cudp.recvfrom(self.u, size)
  if data then return data, addrstr(a), p end
  if a == EAGAIN then return nil, "timeout" end
  return nil, errword(a)
end

-- receivefrom([size]): the next datagram (at most size bytes of it; the
-- rest is discarded, as with a kernel socket) and its source ip, port;
-- waits up to the timeout. nil, err: "timeout", "refused" (ICMP port
-- unreachable after a send on a connected socket), "closed".
function Udp:receivefrom(size)
  size = size == nil and cudp.MAX or tonumber(size)
  if not size or size < 0 or size % 1 ~= 0 then error("receivefrom: size must be a whole number", 2) end
  if not self.u then return nil, "closed" end
  local data, ip, port = take(self, size)
  if data or ip ~= "timeout" or self.timeout == 0 then return data, ip, port end
  if self.on_datagram then error("receivefrom: an event-style socket (on_datagram) is handed its datagrams", 2) end
  local co, rec = self.rt:current("udp:receivefrom")
  if self.reader and self.reader ~= co then return nil, "busy" end
  local deadline = deadline_of(self.rt, self.timeout)
  while true do
    if wait_as(self, "reader", co, rec, deadline) == "timeout" then return nil, "timeout" end
    if not self.u then return nil, "closed" end
    data, ip, port = take(self, size)
    if data or ip ~= "timeout" then return data, ip, port end
  end
end

-- receive([size]): as receivefrom, the data alone.
function Udp:receive(size)
  local data, err = self:receivefrom(size)
  return data, err
end

-- settimeout(ms): how long receivefrom/receive wait (nil or negative:
-- forever, 0: not at all).
function Udp:settimeout(ms)
  self.timeout = ms_or_nil(ms)
  return true
end

function Udp:setoption(name, value)
  if not self.u then return nil, "closed" end
  local opt = cudp.OPT[name]
  if not opt then return nil, "unknown option " .. tostring(name) end
  local v = value
  if type(v) == "boolean" then v = v and 1 or 0 end
  if type(v) ~= "number" then return nil, "bad value for option " .. name .. ": " .. tostring(value) end
  local r = cudp.setopt(self.u, opt, v)
  if r < 0 then return nil, "bad value for option " .. name .. ": " .. tostring(value) end
  return true
end

function Udp:getoption(name)
  if not self.u then return nil, "closed" end
  local opt = cudp.OPT[name]
  if not opt then return nil, "unknown option " .. tostring(name) end
  local v = cudp.getopt(self.u, opt)
  if name == "checksum" then return v ~= 0 end
  return v
end

-- { queued = datagrams waiting, drops = datagrams the full queue dropped }
function Udp:info()
  if not self.u then return nil, "closed" end
  return { queued = cudp.queued(self.u), drops = cudp.drops(self.u), rcvbuf = cudp.getopt(self.u, cudp.OPT.rcvbuf) }
end

function Udp:close()
  if not self.u then return nil, "closed" end
  cudp.close(self.u)
  ids.put(self.rt, self.id, nil)
  self.rt.udp.socks[self] = nil
  self.u = nil
  self.rt:wake(self.reader, "event")
  return true
end

function Udp:__tostring()
  if not self.u then return "udp (closed)" end
  local ip, port = self:getsockname()
  return ("udp %s:%d"):format(ip, port)
end

------------------------------------------------------------ events -------

-- The label of an error report: "udp :53 from 10.77.0.1:40000: ".
local function label(self, ip, port)
  local _, lport = cudp.addrs(self.u)
  return ("udp :%d%s: "):format(lport, ip and (" from %s:%d"):format(ip, port) or "")
end

-- Hands each queued datagram of an event socket to its on_datagram; an
-- error there is reported (with traceback) and costs that datagram only.
local function deliver(rt, self, mask)
  if band(mask, cudp.EV_ERROR) ~= 0 and self.u then
    local data, err = take(self, 0)
    if not data and err ~= "timeout" and self.on_error then
      local ok, e = xpcall(self.on_error, traceback, self, err)
      if not ok then rt:error("on_error", label(self) .. tostring(e)) end
    end
  end
  while self.u and self.on_datagram do
    local data, ip, port = take(self, cudp.MAX)
    if not data then break end
    local ok, e = xpcall(self.on_datagram, traceback, self, data, ip, port)
    if not ok then rt:error("on_datagram", label(self, ip, port) .. tostring(e)) end
  end
end

-- Dispatches every pending UDP event. Returns true if there were any.
function M.drain(rt)
  local st, ev = rt.st, rt.udp.ev
  local any = false
  while cudp.next_event(st, ev) do
    any = true
    local self = ids.decode(rt, tonumber(ev.user))
    if self and self.u == ev.sock then
      if self.on_datagram then deliver(rt, self, ev.mask) else rt:wake(self.reader, "event") end
    end
  end
  return any
end

-- Whether rt has a UDP socket open (tcplua.sim: datagrams in flight arm
-- no stack timer, so a run with sockets open ends by settling).
function M.any_open(rt) return next(rt.udp.socks) ~= nil end

-- Closes every socket (the binary exits).
function M.shutdown_all(rt)
  local list = {}
  for s in pairs(rt.udp.socks) do list[#list + 1] = s end
  for _, s in ipairs(list) do s:close() end
end

return M
