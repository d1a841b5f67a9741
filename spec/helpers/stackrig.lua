-- A stack to feed raw datagrams to, and the counters each feeding moved
-- (the unit specs of IP, ICMP and UDP input validation):
--
--   local rig = require "helpers.stackrig"
--   local st = rig.new_stack(function(cfg) cfg.mtu = 576 end)  -- bare, no link
--   local d = rig.feed(st, bytes)              -- { drop_ip_bad_len = 1, ... }
--   local sim, st, raw = rig.sim_stack(tweak)  -- in a sim, 10.77.0.1 raw
--   local replies, d = rig.exchange(sim, st, raw, { bytes }, P)  -- P.parse each reply
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

function M.new_stack(tweak)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  if tweak then tweak(cfg) end
  return ffi.gc(C.tl_stack_new(cfg, nil, nil), C.tl_stack_free)
end

-- counters that changed between two snapshots
function M.delta(before, after)
  local d = {}
  for k, v in pairs(after) do
    if v ~= before[k] then d[k] = v - before[k] end
  end
  return d
end

function M.feed(st, s)
  local before = core.stats(st)
  C.tl_stack_input(st, s, #s, 0)
  return M.delta(before, core.stats(st))
end

-- A stack in a sim, with a raw endpoint at 10.77.0.1 that takes what it
-- sends (over either family: the sim delivers by the stack's host).
function M.sim_stack(tweak)
  local sim = ffi.gc(C.tl_sim_new(3, 0), C.tl_sim_free)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  if tweak then tweak(cfg) end
  local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
  local raw = C.tl_sim_add_raw(sim, core.ip("10.77.0.1"))
  return sim, st, raw
end

-- Delivers the datagrams straight into the stack (the sim routes only to
-- addresses it knows); what came back (parsed with P.parse, P the packet
-- helper of the family: helpers.ipv6pkt's recv_all reads the raw end)
-- and the counters moved.
function M.exchange(sim, st, raw, pkts, P)
  local before = core.stats(st)
  for _, s in ipairs(pkts) do C.tl_stack_input(st, s, #s, C.tl_sim_now(sim)) end
  C.tl_sim_run(sim, C.tl_sim_now(sim) + 1000)
  local t = {}
  for i, s in ipairs(P.recv_all(sim, raw)) do t[i] = P.parse(s) end
  return t, M.delta(before, core.stats(st))
end

return M
