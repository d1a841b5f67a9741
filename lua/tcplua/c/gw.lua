-- The C family of the gateway (core/include/api_fwd.h, core/fwd/): whether
-- a stack forwards, the passive flow table, flow resets. The only module
-- that calls these functions; tcplua.gateway builds the Lua views on them.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

function M.is(st) return st ~= nil and C.tl_gw_is(st) ~= 0 end

local dirbuf = ffi.new("int[1]")
-- The flow of an IPv4 TCP datagram (pkt, len) and its way (0 client to
-- server, 1 back), or nil.
function M.flow(st, pkt, len)
  local f = C.tl_gw_flow(st, pkt, len, dirbuf)
  if f == nil then return nil end
  return f, dirbuf[0]
end

-- Shows a held datagram to the flow table before the hooks judge it.
function M.observe_seg(st, seg) C.tl_gw_observe(st, seg.pkt, seg.len, seg.side) end

-- Hooks may judge super-packets whole (the links' offloads stay on).
function M.set_whole(st, on) C.tl_gw_set_whole(st, on and 1 or 0) end

M.count = C.tl_gw_flow_count
function M.at(st, i)
  local f = C.tl_gw_flow_at(st, i)
  if f == nil then return nil end
  return f
end

-- RSTs to both ends of the flow of pkt: the number sent, or < 0.
M.reset = C.tl_gw_reset

-- For specs: the TTL decrement and a flow table alone.
M.ttl_dec = C.tl_gw_ttl_dec
function M.table_new(n)
  local t = C.tl_flow_table_new(n or 0)
  if t == nil then return nil end
  return ffi.gc(t, C.tl_flow_table_free)
end
function M.observe(t, pkt, len, side, gso, now)
  local f = C.tl_flow_observe(t, pkt, len, side or 0, gso or 0, now or 0)
  if f == nil then return nil end
  return f
end
function M.lookup(t, pkt, len)
  local f = C.tl_flow_lookup(t, pkt, len, dirbuf)
  if f == nil then return nil end
  return f, dirbuf[0]
end

return M
