-- The core's user word of each socket, and what it means on the Lua side.
-- The one module that reads or writes it (through tcplua.c.sock).
--
--   0                   nobody's (an orphan the core finishes alone)
--   1 .. EVBASE-1       an id in the runtime's registry (rt.ids.objs): a
--                       coroutine connection, a listener, or a closed
--                       connection still lingering (tcplua.socket)
--                       or a UDP socket (tcplua.udp)
--   EVBASE + server id  a connection of an event server (tcplua.evserver),
--                       which has no registry entry while idle
local sock = require "tcplua.c.sock"
local cudp = require "tcplua.c.udp"

local M = {}

local EVBASE = 2 ^ 40
M.EVBASE = EVBASE

function M.init(rt) rt.ids = { objs = {}, next = 0 } end

-- Gives obj (with obj.s) a fresh id: the registry holds it and the core's
-- user word of obj.s names it.
function M.register(rt, obj)
  local ids = rt.ids
  ids.next = ids.next + 1
  ids.objs[ids.next] = obj
  obj.id = ids.next
  sock.set_user(obj.s, ids.next)
  return ids.next
end

-- The same for a UDP socket object (obj.u, tcplua.udp): its id in the
-- registry names it in the core's user word of obj.u.
function M.register_udp(rt, obj)
  local ids = rt.ids
  ids.next = ids.next + 1
  ids.objs[ids.next] = obj
  obj.id = ids.next
  cudp.set_user(obj.u, ids.next)
  return ids.next
end

-- Puts obj under id (a closed connection's lingering record keeps its id)
-- or, with obj nil, forgets id.
function M.put(rt, id, obj) rt.ids.objs[id] = obj end

-- The registry's objects as a list (a copy: callers close them).
function M.all(rt)
  local list = {}
  for _, obj in pairs(rt.ids.objs) do list[#list + 1] = obj end
  return list
end

-- Marks s as a connection of event server srv_id.
function M.set_event(s, srv_id) sock.set_user(s, EVBASE + srv_id) end

-- Marks s as nobody's.
function M.clear(s) sock.set_user(s, 0) end

-- The event server id of s, or nil if it is not an event connection.
function M.event_server(s)
  local u = sock.user(s)
  if u >= EVBASE then return u - EVBASE end
  return nil
end

-- What a user word (an event's, as a number) names: the registry object
-- (or nil), else nil and the event server id. Event connections are told
-- apart before the registry is indexed: a key that large stops the JIT
-- (NYI: mixed sparse/dense table) and made event servers slower than
-- coroutines.
function M.decode(rt, u)
  if u >= EVBASE then return nil, u - EVBASE end
  return rt.ids.objs[u], nil
end

-- The registry object whose handle is s, or nil, and the event server id
-- of s if it is an event connection.
function M.of(rt, s)
  local obj, srv = M.decode(rt, sock.user(s))
  if obj and obj.s == s then return obj, nil end
  return nil, srv
end

return M
