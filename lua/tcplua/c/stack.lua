-- The C family of a stack as a whole (core/include/api.h): its configuration,
-- its next deadline, and the receive batch switch. The only module that
-- calls these functions (tcplua.core, the base, has the counters and the
-- error names).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

-- The stack's tl_config (read-only cdata).
M.config = C.tl_stack_config

-- A tl_config with the core's defaults.
function M.default_config()
  local c = ffi.new("tl_config")
  C.tl_config_default(c)
  return c
end

function M.deadline(st) return tonumber(C.tl_stack_deadline(st)) end

-- Segments released between rx_batch(st, true) and rx_batch(st, false)
-- form one receive batch (their ACKs leave at the next poll); a no-op in a
-- core without the switch.
local has_batch = pcall(function() return C.tl_tcp_rx_batch end)
function M.rx_batch(st, on)
  if has_batch then C.tl_tcp_rx_batch(st, on and 1 or 0) end
end

-- The stack pointer the binary hands over as a lightuserdata.
function M.from_pointer(p) return ffi.cast("tl_stack *", p) end

return M
