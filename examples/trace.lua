-- Echo on port 7 that prints one tcpdump-like line per segment (both
-- directions) with the connection's state and what any fault did.
--   sudo tcplua examples/trace.lua [PORT]     then: echo hi | nc -N 10.77.0.2 7
-- (`tcplua --trace SCRIPT` does the same for any script, on stderr.)
local tcplua = require "tcplua"
local trace = require "tcplua.trace"

local port = tonumber((...)) or 7
local t0 = tcplua.now()

tcplua.on_segment(function(seg, dir, conn, now)
  local state = conn and conn:state() or (dir == "in" and seg.dport == port and "LISTEN") or nil
  print(string.format("%.3f %s", now - t0, trace.format(seg, dir, state)))
end)

assert(tcplua.listen(port, function(conn)
  while true do
    local data = conn:receiveany(65536)
    if not data or not conn:send(data) then break end
  end
end))

local cfg = tcplua.config()
if not cfg.quiet then print(("traced echo on %s:%d"):format(cfg.addr, port)) end
