-- UDP echo service (RFC 862) on port 7: every datagram received is sent
-- back to where it came from.
--   sudo tcplua examples/udp_echo.lua [PORT]     then: nc -u 10.77.0.2 7
--                                                or: nc -u -6 fd77::2 7
-- The socket is bound to the wildcard, so it answers over IPv4 and IPv6.
-- Event style: on_datagram is called for each datagram, no coroutine.
local tcp = require "tcplua"

local port = tonumber((...)) or 7

assert(tcp.udp {
  port = port,
  on_datagram = function(sock, data, ip, from) sock:sendto(data, ip, from) end,
})

local cfg = tcp.config()
if not cfg.quiet then
  print(("udp echo server on %s:%d -- try: nc -u %s %d"):format(cfg.addr, port, cfg.addr, port))
end
