-- Echo service (RFC 862) on port 7, over TCP and UDP: every byte (every
-- datagram) received is sent back.
--   sudo tcplua examples/echo.lua [PORT]      then: nc 10.77.0.2 7, nc -u 10.77.0.2 7
--   (over IPv6 too: nc -6 fd77::2 7, nc -u -6 fd77::2 7)
-- Event style: callbacks instead of a coroutine per connection, so an idle
-- connection costs Lua nothing (docs/lua-api.md, "Event-style servers").
local tcp = require "tcplua"

local port = tonumber((...)) or 7

assert(tcp.listen(port, {
  -- What the send buffer cannot take whole waits in Lua, and on_data is not
  -- called again until it has left: a slow reader slows the writer down.
  on_data = function(conn, data) conn:send(data) end,
}))                                       -- the peer's FIN closes the connection

-- RFC 862's UDP half: each datagram goes back to its sender.
assert(tcp.udp { port = port, on_datagram = function(sock, data, ip, from) sock:sendto(data, ip, from) end })

local cfg = tcp.config()
if not cfg.quiet then
  print(("echo server on %s:%d (TCP and UDP) -- try: nc %s %d"):format(cfg.addr, port, cfg.addr, port))
end
