-- Packet-level faults on non-TCP traffic: 20 % loss and 30 ms of delay on
-- UDP only, both ways; TCP and ICMP pass untouched.
--   sudo scripts/netns gateway up -- examples/gateway_udp_loss.lua
local tcplua = require "tcplua"
local fault = require "tcplua.fault"

local loss = fault.loss(0.2)
tcplua.on_segment(function(seg, dir, conn, now)
  if seg.proto ~= "udp" then return end
  local v = loss(seg, dir, conn, now)
  if v then return v end
  return { delay = 30, fault = "udp delay" }
end)
