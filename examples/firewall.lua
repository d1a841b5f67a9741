-- Echo on port 7 behind an accept filter: connections from DENIED_IP are
-- refused with a RST, and each source may open at most SYN_PER_SEC
-- connections per second (token bucket; excess SYNs are dropped silently,
-- so the client retries after its SYN timeout).
--   sudo tcplua examples/firewall.lua 10.77.0.9 [SYN_PER_SEC]
local tcplua = require "tcplua"

local denied = assert((...), "usage: firewall.lua DENIED_IP [SYN_PER_SEC]")
local rate = tonumber((select(2, ...))) or 10

local buckets = {}  -- source -> { tokens, t }
local refused, limited = 0, 0

-- The filter sees the SYN before the stack makes any state for it.
tcplua.accept_filter(function(syn)
  if syn.src == denied then
    refused = refused + 1
    return false                         -- RST
  end
  local now = tcplua.now()
  local b = buckets[syn.src]
  if not b then
    b = { tokens = rate, t = now }
    buckets[syn.src] = b
  end
  b.tokens = math.min(rate, b.tokens + (now - b.t) * rate / 1000)
  b.t = now
  if b.tokens < 1 then
    limited = limited + 1
    return "drop"                        -- silent: the client retries
  end
  b.tokens = b.tokens - 1
  return true
end)

assert(tcplua.listen(7, function(conn)
  while true do
    local data = conn:receiveany(65536)
    if not data or not conn:send(data) then break end
  end
end))

local cfg = tcplua.config()
if not cfg.quiet then
  print(("firewalled echo on %s:7: refusing %s, %d SYN/s per source"):format(cfg.addr, denied, rate))
end
