-- The C family of the link impairment's configuration (core/include/api.h,
-- tl_impair_config, tl_impair_parse): a config from a Lua table or from
-- tc-netem words, and netem words read back as a table (fault.netem).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

local DIST = { uniform = 0, normal = 1, pareto = 2, paretonormal = 3 }
M.DIST_NAMES = { [0] = "uniform", "normal", "pareto", "paretonormal" }
M.LOSS_RANDOM, M.LOSS_STATE, M.LOSS_GEMODEL = C.TL_LOSS_RANDOM, C.TL_LOSS_STATE, C.TL_LOSS_GEMODEL

local function parse_into(ic, words)
  local err = ffi.new("char[160]")
  if C.tl_impair_parse(ic, words, err, 160) < 0 then return nil, ffi.string(err) end
  return ic
end

-- A tl_impair_config from { loss, duplicate, reorder, corrupt, delay_ms,
-- jitter_ms, reorder_gap, rate_bps, queue_max, loss_corr, duplicate_corr,
-- corrupt_corr, reorder_corr, delay_corr, delay_dist, rate_overhead,
-- rate_cell, rate_cell_overhead, slot_min_ms, slot_max_ms, slot_packets,
-- slot_bytes, netem = "words" } (netem's words applied last) or from a
-- string of netem words. nil, message when something is wrong.
function M.config(cfg)
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
  if cfg.netem then return parse_into(ic, cfg.netem) end
  return ic
end

-- netem words as a plain table: the tl_impair_config fields (times in
-- ms, distributions by name, loss_p as a 1-based list). nil, message when
-- a word is wrong.
function M.parse(words)
  local ic, err = parse_into(ffi.new("tl_impair_config"), words)
  if not ic then return nil, err end
  local t = {
    loss = ic.loss, loss_corr = ic.loss_corr, loss_model = tonumber(ic.loss_model),
    duplicate = ic.duplicate, duplicate_corr = ic.duplicate_corr,
    corrupt = ic.corrupt, corrupt_corr = ic.corrupt_corr,
    reorder = ic.reorder, reorder_corr = ic.reorder_corr, reorder_gap = ic.reorder_gap,
    delay_ms = ic.delay_us / 1000, jitter_ms = ic.jitter_us / 1000, delay_corr = ic.delay_corr,
    delay_dist = M.DIST_NAMES[tonumber(ic.delay_dist)],
    rate_bps = tonumber(ic.rate_bps), rate_overhead = ic.rate_overhead, rate_cell = ic.rate_cell,
    rate_cell_overhead = ic.rate_cell_overhead,
    slot_min_ms = ic.slot_min_us / 1000, slot_max_ms = ic.slot_max_us / 1000,
    slot_jitter_ms = ic.slot_jitter_us / 1000, slot_packets = ic.slot_packets, slot_bytes = ic.slot_bytes,
    slot_dist = ic.slot_dist ~= 0 and M.DIST_NAMES[tonumber(ic.slot_dist)] or nil,
    queue_max = ic.queue_max, loss_p = {},
  }
  for i = 0, 4 do t.loss_p[i + 1] = ic.loss_p[i] end
  return t
end

return M
