-- For spec/tun/tcp_window_spec.lua: a server on PORT whose handler lets its
-- receive buffer fill (it waits PAUSE_MS before each read of at most READ
-- bytes), then prints "reader: received=N err=WORD" when the peer closes.
--   tcplua tcp_slow_reader.lua PORT PAUSE_MS READ
local tcp = require "tcplua"

local port, pause, read = ...
port, pause, read = tonumber(port), tonumber(pause), tonumber(read)

assert(tcp.listen(port, function(conn)
  conn:settimeout(30000)
  local received = 0
  while true do
    tcp.sleep(pause)
    local data, err = conn:receiveany(read)
    if not data then
      io.write(("reader: received=%d err=%s\n"):format(received, tostring(err)))
      io.stdout:flush()
      return
    end
    received = received + #data
  end
end))
