-- The C family of the simulated link (core/include/api.h, tl_sim_*). The only
-- module that calls these functions; tcplua.sim builds runtimes over it.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local impair = require "tcplua.c.impair"

local M = {}

-- A new sim, freed when collected; nil if the core could not make one.
function M.new(seed, latency_us)
  local sim = C.tl_sim_new(seed, latency_us)
  if sim == nil then return nil end
  return ffi.gc(sim, C.tl_sim_free)
end

M.add_stack = C.tl_sim_add_stack  -- (sim, cfg) -> endpoint or < 0
M.stack = C.tl_sim_stack          -- (sim, ep) -> tl_stack *
M.add_raw = C.tl_sim_add_raw      -- (sim, addr) -> endpoint or < 0
function M.now(sim) return tonumber(C.tl_sim_now(sim)) end
M.run = C.tl_sim_run              -- (sim, until_us)
function M.delivered(sim) return tonumber(C.tl_sim_delivered(sim)) end

-- Impairment of what endpoint from sends (-1: all), from a Lua table
-- (docs/lua-api.md, sim:impair) or a string of tc-netem words. Returns
-- nil, message for bad netem words or an unknown distribution.
function M.impair(sim, from, cfg)
  local ic, err = impair.config(cfg)
  if not ic then return nil, err end
  C.tl_sim_impair(sim, from, ic)
  return true
end

return M
