-- Two Lua runtimes (10.0.0.1 and 10.0.0.2) on the sim link, for specs of
-- the Lua API. Error reports (a callback that raised, ...) go to `log`,
-- which a spec expects empty.
--
--   local sim, a, b, log = require("helpers.luasim").pair(seed)
--   local sim, a, b, log = luasim.pair(seed, { tcp_sndbuf = 16384 })  -- both stacks
local M = {}

function M.pair(seed, cfg)
  local log = {}
  local sim = require("tcplua.sim").new { seed = seed or 1, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local function stack(addr)
    local c = { addr = addr }
    for k, v in pairs(cfg or {}) do c[k] = v end
    return sim:stack(c)
  end
  return sim, stack("10.0.0.1"), stack("10.0.0.2"), log
end

return M
