-- For spec/tun/gateway_faults_spec.lua: drops the first SYN of every flow
-- (the client retransmits it), and prints the flow's state changes and
-- its final counts as the gateway's flow table has them.
local tcplua = require "tcplua"

local last = {}
tcplua.on_segment(function(seg)
  local f = seg.flow
  if not f then return end
  local key = f.client .. ">" .. f.server
  if seg.flags == "S" then
    if f.syn_retx == 0 then
      print("dropped SYN syn_retx=0")
      return "drop"
    end
    print("SYN syn_retx=" .. f.syn_retx .. " passes")
  end
  if last[key] ~= f.state then
    last[key] = f.state
    print("state " .. f.state .. " " .. key)
  end
  if f.fin_c2s and f.fin_s2c then
    print("final bytes_s2c=" .. f.bytes_s2c .. " bytes_c2s=" .. f.bytes_c2s .. " segs_s2c=" .. f.segs_s2c)
    for _, t in ipairs(tcplua.flows()) do
      if t.client == f.client then print("table " .. t.client .. " " .. t.server .. " syns=" .. t.syns) end
    end
  end
end)
