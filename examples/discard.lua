-- Discard service (RFC 863) on port 9: reads and drops everything.
--   sudo tcplua examples/discard.lua [PORT]   then: head -c 10M /dev/zero | nc -N 10.77.0.2 9
local tcp = require "tcplua"

local port = tonumber((...)) or 9
local cfg = tcp.config()

assert(tcp.listen(port, function(conn)
  local total, started = 0, tcp.now()
  while true do
    local data = conn:receiveany(1024 * 1024)
    if not data then break end
    total = total + #data
  end
  local ip, p = conn:peer()
  local secs = math.max(tcp.now() - started, 1) / 1000
  print(("discard: %s:%d sent %d bytes (%.1f MB/s)"):format(ip, p, total, total / secs / 1e6))
end))

if not cfg.quiet then
  print(("discard server on %s:%d -- try: head -c 10M /dev/zero | nc -N %s %d")
    :format(cfg.addr, port, cfg.addr, port))
end
