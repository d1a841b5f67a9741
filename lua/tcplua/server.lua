-- Listeners, and the dispatch of the stack's socket events to the Lua
-- objects they concern: tcp.listen(port, handler, opts) makes a Server
-- whose connections are coroutine connections (tcplua.socket, a function
-- handler) or event connections (tcplua.evserver, a table of callbacks).
local sock = require "tcplua.c.sock"
local base = require "tcplua.connbase"
local ids = require "tcplua.ids"
local socket = require "tcplua.socket"
local evserver = require "tcplua.evserver"
local hook = require "tcplua.hook"
local lend = require "tcplua.lend"
local band = require("bit").band

local M = {}

local errword = base.errword

local Server = {}
Server.__index = Server
M.Server = Server

function M.init(rt) rt.server = { ev = sock.new_event() } end

function Server:close()
  if not self.s then return nil, "closed" end
  sock.close(self.s, self.rt.now_us)
  ids.put(self.rt, self.id, nil)
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
Server.setoption = base.Base.setoption
Server.getoption = base.Base.getoption

-- Accepts every queued connection of a coroutine server: the handler
-- coroutine owns each connection, so when the handler returns it is closed
-- gracefully, when it raises it is aborted.
local function accept_all(rt, srv)
  while srv.s do
    local s = sock.accept(srv.s)
    if s == nil then break end
    local rec = { what = "connection handler" }
    local c = socket.new_conn(rt, s, rec)
    rec.conn = c
    c.max_line = srv.max_line
    base.apply_child_opts(rt, srv, s)
    rt:_spawn(rec, srv.handler, c)
  end
end

-- Level 3 is the script's call: tcplua.listen tail-calls M.listen.
local function check_args(port, handler)
  if type(port) ~= "number" or port < 1 or port > 65535 or port % 1 ~= 0 then
    error("listen: port must be an integer 1..65535", 3)
  end
  if type(handler) ~= "function" and type(handler) ~= "table" then
    error("listen: handler must be a function or a table of callbacks (on_data, ...)", 3)
  end
end

-- The listening handle with opts applied, or nil, err.
local function open(rt, port, opts)
  -- Backlog 0: the stack's default, unless opts.backlog sets it below.
  local s, e = sock.listen(rt.st, port, 0)
  if not s then return nil, errword(e) end
  if opts.max_line ~= nil then
    local v = tonumber(opts.max_line)
    if not v or v < 1 or v % 1 ~= 0 then
      sock.close(s, rt.now_us)
      return nil, "bad value for option max_line: " .. tostring(opts.max_line)
    end
  end
  local copts, oerr = base.listener_opts(s, opts)
  if copts == nil then
    sock.close(s, rt.now_us)
    return nil, oerr
  end
  return s, copts
end

-- listen(port, handler, opts) -> server, or nil, err. handler: a function
-- (run in a coroutine per connection) or a table of event callbacks
-- (tcplua.evserver).
function M.listen(rt, port, handler, opts)
  check_args(port, handler)
  opts = opts or {}
  local s, copts = open(rt, port, opts)
  if not s then return nil, copts end
  local srv = setmetatable({ rt = rt, s = s, port = port, handler = handler, opts = opts,
    conn_opts = copts, max_line = opts.max_line }, Server)
  ids.register(rt, srv)
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

------------------------------------------------------------ events -------

local EV_READ = sock.EV_READABLE + sock.EV_CLOSED
local EV_WRITE = sock.EV_WRITABLE + sock.EV_CONNECTED + sock.EV_CLOSED
local EV_ACCEPT = sock.EV_ACCEPT
local evservice, evaccept, decode = evserver.service, evserver.accept_all, ids.decode

-- One event of socket s, whose user word is u.
local function dispatch(rt, u, s, mask)
  local obj, evid = decode(rt, u)
  if evid then
    local srv = evserver.server(rt, evid)
    if srv then evservice(rt, srv, s) end
    return
  end
  if not obj then return end
  if obj.lsock == s then return socket.linger_step(rt, obj) end
  if obj.s ~= s then return end
  if obj.is_server then
    if band(mask, EV_ACCEPT) ~= 0 then
      if obj.handlers then evaccept(rt, obj) else accept_all(rt, obj) end
    end
  else
    socket.on_event(obj, band(mask, EV_READ) ~= 0, band(mask, EV_WRITE) ~= 0)
  end
end

-- Dispatches every pending socket event. Returns true if there were any.
function M.drain_events(rt)
  local st, ev = rt.st, rt.server.ev
  local any = false
  while sock.next_event(st, ev) do
    any = true
    -- The peer may have acknowledged lent bytes (tcplua.lend).
    lend.event(rt, ev.sock)
    dispatch(rt, tonumber(ev.user), ev.sock, ev.mask)
  end
  return any
end

-- Aborts every connection and closes every listener (the binary exits).
function M.shutdown_all(rt)
  for _, c in ipairs(evserver.all(rt)) do c:abort() end
  for _, obj in ipairs(ids.all(rt)) do
    if obj.is_server then obj:close() elseif obj.s then obj:abort()
    elseif obj.lsock then socket.abort_lingering(rt, obj) end
  end
end

return M
