-- Two stacks on the in-memory sim link, no root and no TUN:
--   ./tcplua --sim examples/sim_echo.lua [MESSAGE]
-- A 1% lossy link, an echo server on one stack and a client on the other;
-- time is virtual, so the run takes milliseconds of CPU.
local message = ... or "hello over a lossy link"
local sim = require("tcplua.sim").new { seed = 1, latency_ms = 5 }
local a = sim:stack { addr = "10.0.0.1" }
local b = sim:stack { addr = "10.0.0.2" }
sim:impair(nil, { loss = 0.01 })

assert(a.listen(7, function(conn)
  while true do
    local line = conn:receive()
    if not line then return end
    conn:send(line .. "\n")
  end
end))

b.spawn(function()
  local c = assert(b.connect("10.0.0.1", 7))
  for i = 1, 3 do
    c:send(("%d %s\n"):format(i, message))
    print(c:receive())
  end
  print(("retransmissions: %d, virtual time: %.0f ms"):format(c:info().total_retrans, b.now()))
end)

assert(sim:run(60000), "the sim did not finish")
