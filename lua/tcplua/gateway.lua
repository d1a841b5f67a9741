-- The gateway's Lua side (tcplua --gateway, docs/gateway.md): views of the
-- passive flow table (core/fwd/flow.c) for segment hooks (seg.flow), the
-- table as plain snapshots (tcplua.flows()), and flow resets
-- (tcplua.reset_flow(seg), or the "reset" verdict).
--
-- A flow view is a small table over the C flow; its fields are read when
-- asked for (the counts are those after the segment being judged):
--   state      "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT",
--              "CLOSING", "CLOSED" or "RESET"
--   dir        this segment's way: "c2s" (client to server) or "s2c"
--   client, server   "addr:port" (the client sent the first SYN)
--   client_side      "a" or "b": the gateway side the client is on
--   bytes_c2s, bytes_s2c   payload bytes seen each way (retransmissions too)
--   segs_c2s, segs_s2c     segments seen each way
--   retx_c2s, retx_s2c     segments resending data already seen that way
--   syns, syn_retx         SYNs from the client; retransmissions of it
--   synacks               SYN-ACKs from the server
--   fin_c2s, fin_s2c      a FIN seen that way (booleans)
--   rst                   nil, "client", "server" or "gateway"
--   isn_c2s, isn_s2c      initial sequence numbers (from the SYN, SYN-ACK)
--   nxt_c2s, nxt_s2c      highest sequence + length seen that way
--   ack_c2s, ack_s2c      the last acknowledgment sent that way
--   midstream             first seen without its SYN (client guessed)
--   age_ms                from its first segment to its last
-- Like the segment view, it is valid during the hook call only.
local cgw = require "tcplua.c.gw"
local core = require "tcplua.core"

local M = {}

local STATES = { "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT", "CLOSING", "CLOSED", "RESET" }
local RST = { "client", "server", "gateway" }
M.STATES = STATES

local function endpoint(f, i)
  return core.ipstr(tonumber(f.addr[i])) .. ":" .. tonumber(f.port[i])
end

local get = {}
function get.state(w) return STATES[w._f.state] or "NONE" end
function get.dir(w) return w._d == 0 and "c2s" or "s2c" end
function get.client(w) return endpoint(w._f, 0) end
function get.server(w) return endpoint(w._f, 1) end
function get.client_side(w) return w._f.side == 0 and "a" or "b" end
function get.bytes_c2s(w) return tonumber(w._f.bytes[0]) end
function get.bytes_s2c(w) return tonumber(w._f.bytes[1]) end
function get.segs_c2s(w) return tonumber(w._f.segs[0]) end
function get.segs_s2c(w) return tonumber(w._f.segs[1]) end
function get.retx_c2s(w) return tonumber(w._f.retx[0]) end
function get.retx_s2c(w) return tonumber(w._f.retx[1]) end
function get.syns(w) return tonumber(w._f.syns) end
function get.syn_retx(w) return math.max(0, tonumber(w._f.syns) - 1) end
function get.synacks(w) return tonumber(w._f.synacks) end
function get.fin_c2s(w) return w._f.fin[0] ~= 0 end
function get.fin_s2c(w) return w._f.fin[1] ~= 0 end
function get.rst(w) return RST[w._f.rst] end
function get.isn_c2s(w) return tonumber(w._f.isn[0]) end
function get.isn_s2c(w) return tonumber(w._f.isn[1]) end
function get.nxt_c2s(w) return tonumber(w._f.nxt[0]) end
function get.nxt_s2c(w) return tonumber(w._f.nxt[1]) end
function get.ack_c2s(w) return w._f.has_ack[0] ~= 0 and tonumber(w._f.ack[0]) or nil end
function get.ack_s2c(w) return w._f.has_ack[1] ~= 0 and tonumber(w._f.ack[1]) or nil end
function get.midstream(w) return w._f.midstream ~= 0 end
function get.age_ms(w) return tonumber(w._f.last_us - w._f.first_us) / 1000 end

local Flow = {}
Flow.__index = function(w, k)
  local g = get[k]
  if g then return g(w) end
  return nil
end
Flow.__newindex = function(_, k) error("flow: field " .. tostring(k) .. " is read-only", 2) end
Flow.__tostring = function(w)
  return string.format("flow %s > %s %s c2s %d B s2c %d B", get.client(w), get.server(w), get.state(w),
    get.bytes_c2s(w), get.bytes_s2c(w))
end

-- The flow of a held datagram (a tl_hook_seg), as a view; `reuse`: a view
-- to re-aim (the hook runner keeps one), or nil for a new one.
function M.view(st, seg, reuse)
  local f, d = cgw.flow(st, seg.pkt, seg.len)
  if not f then return nil end
  if reuse then
    rawset(reuse, "_f", f)
    rawset(reuse, "_d", d)
    return reuse
  end
  return setmetatable({ _f = f, _d = d }, Flow)
end

function M.new_view() return setmetatable({ _f = false, _d = 0 }, Flow) end

-- Every flow in the table as a plain table of the fields above (without dir).
function M.flows(st)
  local out = {}
  for i = 0, cgw.count(st) - 1 do
    local f = cgw.at(st, i)
    if not f then break end
    local w = setmetatable({ _f = f, _d = 0 }, Flow)
    local t = {}
    for k, g in pairs(get) do
      if k ~= "dir" then t[k] = g(w) end
    end
    out[#out + 1] = t
  end
  return out
end

return M
