-- Resets every TCP flow through the gateway once its server has sent
-- BYTES bytes (default 1 MB): both ends get an RST they accept.
--   sudo tcplua --gateway --ns-a cli --ns-b srv examples/gateway_reset_after.lua 1000000
-- (scripts/netns gateway up makes the namespaces; docs/gateway.md.)
local tcplua = require "tcplua"

local limit = tonumber(arg[1]) or 1000000

tcplua.on_segment(function(seg)
  local f = seg.flow -- nil for UDP, ICMP...
  if f and f.dir == "s2c" and f.state ~= "RESET" and f.bytes_s2c >= limit then
    return "reset"
  end
end)
