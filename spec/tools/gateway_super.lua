-- For spec/tun/gateway_basic_spec.lua: a hook that takes super-packets
-- whole (tcplua.super_packets) and reports the largest segment it saw.
local tcplua = require "tcplua"

assert(tcplua.super_packets(true))
local max = 0
tcplua.on_segment(function(seg)
  if seg.len > max then max = seg.len end
  local f = seg.flow
  if f and f.fin_c2s and f.fin_s2c then print("max segment " .. max .. " segs_s2c " .. f.segs_s2c) end
end)
