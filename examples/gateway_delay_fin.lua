-- Delays only the server's FIN (MS ms, default 500): the client sees the
-- data at once and the end of the stream late.
--   sudo scripts/netns gateway up -- examples/gateway_delay_fin.lua 500
local tcplua = require "tcplua"

local ms = tonumber(arg[1]) or 500

tcplua.on_segment(function(seg)
  local f = seg.flow
  if f and f.dir == "s2c" and seg.bits % 2 == 1 then -- FIN
    return { delay = ms, fault = "server FIN delayed" }
  end
end)
