-- Drops the second retransmission of every SYN through the gateway (the
-- client's third SYN): its connect then waits one more RTO.
--   sudo scripts/netns gateway up -- examples/gateway_syn_retx.lua
local tcplua = require "tcplua"

tcplua.on_segment(function(seg)
  local f = seg.flow
  if f and seg.flags == "S" and f.syn_retx == 2 then return "drop" end
end)
