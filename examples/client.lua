-- The stack as a client: connects to HOST PORT on the host side, sends one
-- line, half-closes, prints whatever comes back until the server closes,
-- then stops tcplua.
--   nc -l 10.77.0.1 8080 &     (or any echo/HTTP service on the host)
--   sudo tcplua examples/client.lua 10.77.0.1 8080 ["message"]
local tcp = require "tcplua"

local host, port, message = ...
host = host or tcp.config().host
port = tonumber(port) or 7
message = message or "hello from tcplua"

-- The main chunk is not a coroutine: connect, send and receive wait, so
-- they run inside tcplua.spawn.
tcp.spawn(function()
  local conn, err = tcp.connect(host, port, { timeout = 5000 })
  if not conn then
    io.stderr:write(("client: connect to %s:%d failed: %s\n"):format(host, port, err))
    tcp.stop()
    return
  end
  conn:settimeout(5000)
  local ok, serr = conn:send({ message, "\n" })
  if not ok then io.stderr:write("client: send failed: ", serr, "\n") end
  conn:shutdown("send")
  local reply, rerr, partial = conn:receive("*a")
  io.write(reply or partial)
  if not reply then io.stderr:write("client: receive: ", rerr, "\n") end
  io.stdout:flush()
  conn:close()
  tcp.stop()
end)
