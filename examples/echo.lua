-- Echo service (RFC 862) on port 7: every byte received is sent back.
--   sudo tcplua examples/echo.lua [PORT]      then: nc 10.77.0.2 7
-- Event style: callbacks instead of a coroutine per connection, so an idle
-- connection costs Lua nothing (docs/lua-api.md, "Event-style servers").
local tcp = require "tcplua"

local port = tonumber((...)) or 7

assert(tcp.listen(port, {
  -- What the send buffer cannot take whole waits in Lua, and on_data is not
  -- called again until it has left: a slow reader slows the writer down.
  on_data = function(conn, data) conn:send(data) end,
}))                                       -- the peer's FIN closes the connection

local cfg = tcp.config()
if not cfg.quiet then
  print(("echo server on %s:%d -- try: nc %s %d"):format(cfg.addr, port, cfg.addr, port))
end
