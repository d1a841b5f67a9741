-- A module whose function never returns (spec/tun/scripts/spin.lua).
local M = {}
function M.spin()
  local x = 0; while true do x = x + 1 end -- SPIN module
end
return M
