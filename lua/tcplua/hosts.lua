-- Names for connect and listen: a dotted quad, an IPv6 address, or a name
-- found in the hosts file (/etc/hosts, read at each lookup so edits count
-- at once; there is no DNS). A name may stand for either family: its first
-- IPv4 line wins, else its first IPv6 line (so "localhost", on both the
-- 127.0.0.1 and the ::1 line of a stock hosts file, stays IPv4).
local core = require "tcplua.core"

local M = { path = "/etc/hosts" }

-- The address text the hosts file gives name, or nil.
function M.lookup(name, path)
  local f = io.open(path or M.path, "r")
  if not f then return nil end
  local want = name:lower()
  local six
  for line in f:lines() do
    line = line:gsub("#.*", "")
    local addr, names = line:match("^%s*(%d+%.%d+%.%d+%.%d+)%s+(.+)$")
    if not addr then addr, names = line:match("^%s*([%x:%.]*:[%x:%.]*)%s+(.+)$") end
    if addr and (core.ip(addr) or core.ip6(addr)) then
      for n in names:gmatch("%S+") do
        if n:lower() == want then
          if core.ip(addr) then
            f:close()
            return addr
          end
          six = six or addr
        end
      end
    end
  end
  f:close()
  return six
end

-- host (a dotted quad, an IPv6 address or a hosts-file name) -> a
-- host-order IPv4 address (a number), or an IPv6 address (16-byte string),
-- or nil, "bad address: ...".
function M.resolve(host)
  if type(host) == "number" then return host end
  local addr = core.ip(host) or core.ip6(host)
  if addr then return addr end
  if type(host) == "string" and host:match("^[%w][%w%.%-_]*$") then
    local a = M.lookup(host)
    if a then return core.ip(a) or core.ip6(a) end
    return nil, "bad address: " .. host .. " (not a dotted quad, and not a name in " .. M.path .. ")"
  end
  return nil, "bad address: " .. tostring(host)
end

return M
