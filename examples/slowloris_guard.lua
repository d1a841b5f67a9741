-- A tiny HTTP server (port 80) guarded against slowloris: each source may
-- hold at most MAX_CONN connections (more SYNs are refused by the accept
-- filter), and a client must send its whole request header within
-- HEADER_MS or be reset.
--   sudo tcplua examples/slowloris_guard.lua [MAX_CONN] [HEADER_MS]
local tcplua = require "tcplua"

local max_conn = tonumber((...)) or 4
local header_ms = tonumber((select(2, ...))) or 2000

local open = {}  -- source address -> connections open

tcplua.accept_filter(function(syn)
  if (open[syn.src] or 0) >= max_conn then return false end
  return true
end)

assert(tcplua.listen(80, function(conn)
  local src = conn:peer()
  open[src] = (open[src] or 0) + 1
  local deadline = tcplua.now() + header_ms
  local ok = true
  while true do
    conn:settimeout(math.max(1, deadline - tcplua.now()))
    local line, err = conn:receive("*l")
    if not line then
      if err == "timeout" then ok = false else ok = nil end
      break
    end
    if line == "" or line == "\r" then break end
  end
  if ok == false then
    conn:abort()                          -- too slow: reset
  elseif ok then
    local body = "hello\n"
    conn:send({ "HTTP/1.1 200 OK\r\nContent-Length: ", #body, "\r\nConnection: close\r\n\r\n", body })
  end
  open[src] = open[src] - 1
end))

local cfg = tcplua.config()
if not cfg.quiet then
  print(("guarded http on %s:80: %d connections per source, %d ms for the header"):format(cfg.addr,
    max_conn, header_ms))
end
