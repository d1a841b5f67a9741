-- Echo service (RFC 862) on port 7: every byte received is sent back.
--   sudo tcplua examples/echo.lua [PORT]      then: nc 10.77.0.2 7
local tcp = require "tcplua"

local port = tonumber((...)) or 7

assert(tcp.listen(port, function(conn)
  while true do
    local data = conn:receiveany(65536)   -- nil, "closed" once the peer sent FIN
    if not data then break end
    if not conn:send(data) then break end -- waits while the send buffer is full
  end
end))                                     -- returning closes the connection

local cfg = tcp.config()
if not cfg.quiet then
  print(("echo server on %s:%d -- try: nc %s %d"):format(cfg.addr, port, cfg.addr, port))
end
