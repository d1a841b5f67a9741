-- For spec/tun/tcp_reset_spec.lua: a server on PORT whose handler reports
-- on stdout how its connection ended, so the spec can see what a peer's RST
-- looks like from Lua.
--   tcplua tcp_reset_server.lua PORT MODE
-- MODE "receive": reads until receive fails; prints
--   "handler: received=N err=WORD"
-- MODE "send": sends until send fails (a reader coroutine drains input);
--   prints "handler: sent=N err=WORD"
local tcp = require "tcplua"

local port, mode = tonumber((...)), select(2, ...)

local function report(fmt, ...)
  io.write(fmt:format(...), "\n")
  io.stdout:flush()
end

local BLOCK = string.rep("0123456789abcdef", 4096)

assert(tcp.listen(port, function(conn)
  conn:settimeout(20000)
  if mode == "send" then
    tcp.spawn(function() while conn:receiveany(65536) do end end)
    local sent = 0
    while true do
      local n, err, partial = conn:send(BLOCK)
      if not n then
        report("handler: sent=%d err=%s", sent + (partial or 0), tostring(err))
        return
      end
      sent = sent + n
    end
  else
    local received = 0
    while true do
      local data, err = conn:receiveany(65536)
      if not data then
        report("handler: received=%d err=%s", received, tostring(err))
        return
      end
      received = received + #data
    end
  end
end))
