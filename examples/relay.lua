-- A two-way TCP relay: every connection to LISTEN_PORT is carried to
-- HOST:PORT (by default the host side of the TUN, port 9000), each way by a
-- thread of its own, with half-close carried both ways (a FIN from one side
-- becomes a FIN to the other, and the other direction goes on).
--   sudo tcplua examples/relay.lua [LISTEN_PORT [HOST [PORT]]]
--   then: nc -N 10.77.0.2 8080 < request      (reaches HOST:PORT)
-- HOST may be a dotted quad or a name from /etc/hosts.
local tcp = require "tcplua"

local lport, uhost, uport = ...
lport = tonumber(lport) or 8080
uhost = uhost or tcp.config().host
uport = tonumber(uport) or 9000

-- Copies from -> to until from's FIN, which it passes on as a FIN.
-- Returns true, or nil and why the copy failed ("reset", ...).
local function pump(from, to)
  while true do
    local data, err = from:receiveany(65536)
    if not data then
      if err ~= "closed" then return nil, err end
      to:shutdown("send")
      return true
    end
    local ok, serr = to:send(data)
    if not ok then return nil, serr end
  end
end

assert(tcp.listen(lport, function(client)
  local up, err = tcp.connect(uhost, uport, { timeout = 5000 })
  if not up then
    io.stderr:write(("relay: %s:%d: %s\n"):format(uhost, uport, err))
    client:abort()
    return
  end
  local a = tcp.spawn(pump, client, up)
  local b = tcp.spawn(pump, up, client)
  -- Both directions end with a FIN; the first failure resets both sides.
  -- (Returning kills a thread still running, and closes both connections.)
  for _ = 1, 2 do
    local ok, done = tcp.wait(a, b)
    if not (ok and done) then
      client:abort()
      up:abort()
      return
    end
  end
end))

local cfg = tcp.config()
if not cfg.quiet then
  print(("relay %s:%d -> %s:%d"):format(cfg.addr, lport, uhost, uport))
end
