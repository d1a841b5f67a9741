-- For spec/tun/gateway_faults_spec.lua: a packet-level fault on non-TCP
-- traffic only: every UDP datagram through the gateway is dropped; ICMP
-- and TCP pass. Prints what it dropped.
local tcplua = require "tcplua"

tcplua.on_segment(function(seg)
  if seg.proto == "udp" then
    print(string.format("dropped udp %s:%s > %s:%s len %d side %s", seg.src, tostring(seg.sport), seg.dst,
      tostring(seg.dport), seg.len, seg.side))
    return "drop"
  end
end)
