-- require "tcplua": the API a script meets. Its functions belong to the
-- default runtime, which the tcplua binary installs (tcplua.host.attach)
-- before the script runs. Without the binary the module still loads, so
-- specs and tools can require it; the stack functions then raise an error
-- that says what to do. tcplua.sim builds runtimes without root or a TUN.
local M = { _VERSION = "0.1.0" }

local NAMES = { "now", "timer", "every", "spawn", "wait", "kill", "sleep", "stats", "config", "stop", "on_error",
  "listen", "connect", "udp", "on_segment", "accept_filter", "inject", "seed", "flows", "reset_flow",
  "super_packets" }

local function no_stack()
  error("no stack: run under the tcplua binary or use tcplua.sim", 2)
end

for _, name in ipairs(NAMES) do M[name] = no_stack end

-- Makes rt (a tcplua.runtime) the one behind this module's functions.
function M._set_default(rt)
  M._runtime = rt
  for _, name in ipairs(NAMES) do M[name] = rt.api[name] end
end

-- tcplua.sim, tcplua.fault, tcplua.trace and tcplua.pcap are loaded on
-- first use: most scripts never need them.
local LAZY = { sim = "tcplua.sim", fault = "tcplua.fault", trace = "tcplua.trace", pcap = "tcplua.pcap" }
setmetatable(M, { __index = function(t, k)
  local mod = LAZY[k]
  if mod then
    local m = require(mod)
    rawset(t, k, m)
    return m
  end
end })

return M
