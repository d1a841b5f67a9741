-- Accepts connections on PORT (default 7), echoes the first N bytes
-- (default 1000) of each, then stalls: from then on every segment of the
-- connection, both ways, vanishes -- nothing more is acknowledged or sent,
-- as if the peer had been unplugged. For testing a client's timeouts.
--   sudo tcplua examples/blackhole.lua [N] [PORT]
local tcplua = require "tcplua"

local n = tonumber((...)) or 1000
local port = tonumber((select(2, ...))) or 7

local function vanish() return "drop" end

assert(tcplua.listen(port, function(conn)
  local got = 0
  while got < n do
    local data = conn:receiveany(n - got)
    if not data then return end
    got = got + #data
    conn:send(data)
  end
  conn:on_segment(vanish)                -- the black hole opens
  -- Hold the connection (and its silence) until the client gives up; its
  -- retransmissions never arrive, so nothing ends it but the stack's own
  -- timeouts or tcplua's exit.
  while conn:state() ~= "CLOSED" do tcplua.sleep(1000) end
end))

local cfg = tcplua.config()
if not cfg.quiet then
  print(("blackhole on %s:%d: stalls every connection after %d bytes"):format(cfg.addr, port, n))
end
