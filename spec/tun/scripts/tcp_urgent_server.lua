-- For spec/tun/tcp_urgent_spec.lua: a server on PORT that answers each
-- connection with "abc" and then "XYZ" sent urgent, and closes.
--   tcplua tcp_urgent_server.lua PORT
local tcp = require "tcplua"

local port = tonumber((...))

assert(tcp.listen(port, function(conn)
  conn:send("abc")
  conn:send("XYZ", { urgent = true })
  conn:close()
end))
