-- Connects to HOST PORT (an IPv6 address), writes a line naming both ends
-- of the connection, then "done", and closes; then idles until stopped (the
-- spec stops it, so it never exits before the spec saw it up). For
-- spec/tun/tcp_ipv6_spec.lua.
local tcplua = require "tcplua"
local host, port = ...
tcplua.spawn(function()
  local c = assert(tcplua.connect(host, tonumber(port)))
  local la, lp = c:sockname()
  local ra, rp = c:peer()
  c:send(("from %s port %d to %s port %d\ndone"):format(la, lp, ra, rp))
  c:close()
end)
