-- The C family of the simulated link (core/include/api.h, tl_sim_*). The only
-- module that calls these functions; tcplua.sim builds runtimes over it.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

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

local DIST = { uniform = 0, normal = 1, pareto = 2, paretonormal = 3 }

-- Impairment of what endpoint from sends (-1: all), from a Lua table
-- (docs/lua-api.md, sim:impair) or a string of tc-netem words. Returns
-- nil, message for bad netem words or an unknown distribution.
function M.impair(sim, from, cfg)
  if type(cfg) == "string" then cfg = { netem = cfg } end
  local ic = ffi.new("tl_impair_config")
  ic.loss = cfg.loss or 0
  ic.duplicate = cfg.duplicate or 0
  ic.reorder = cfg.reorder or 0
  ic.corrupt = cfg.corrupt or 0
  ic.delay_us = math.floor((cfg.delay_ms or 0) * 1000)
  ic.jitter_us = math.floor((cfg.jitter_ms or 0) * 1000)
  ic.reorder_gap = cfg.reorder_gap or 0
  ic.rate_bps = cfg.rate_bps or 0
  ic.queue_max = cfg.queue_max or 0
  ic.loss_corr = cfg.loss_corr or 0
  ic.duplicate_corr = cfg.duplicate_corr or 0
  ic.corrupt_corr = cfg.corrupt_corr or 0
  ic.reorder_corr = cfg.reorder_corr or 0
  ic.delay_corr = cfg.delay_corr or 0
  local dist = DIST[cfg.delay_dist or "uniform"]
  if not dist then return nil, "unknown delay_dist " .. tostring(cfg.delay_dist) end
  ic.delay_dist = dist
  ic.rate_overhead = cfg.rate_overhead or 0
  ic.rate_cell = cfg.rate_cell or 0
  ic.rate_cell_overhead = cfg.rate_cell_overhead or 0
  ic.slot_min_us = math.floor((cfg.slot_min_ms or 0) * 1000)
  ic.slot_max_us = math.floor((cfg.slot_max_ms or cfg.slot_min_ms or 0) * 1000)
  ic.slot_packets = cfg.slot_packets or 0
  ic.slot_bytes = cfg.slot_bytes or 0
  if cfg.netem then
    local err = ffi.new("char[160]")
    if C.tl_impair_parse(ic, cfg.netem, err, 160) < 0 then return nil, ffi.string(err) end
  end
  C.tl_sim_impair(sim, from, ic)
  return true
end

return M
