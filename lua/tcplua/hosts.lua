-- Names for connect and listen: a dotted quad, or a name found in the
-- hosts file (/etc/hosts, read at each lookup so edits count at once;
-- there is no DNS). Only IPv4 lines count.
local core = require "tcplua.core"

local M = { path = "/etc/hosts" }

-- The dotted quad the hosts file gives name (first matching line), or nil.
function M.lookup(name, path)
  local f = io.open(path or M.path, "r")
  if not f then return nil end
  local want = name:lower()
  for line in f:lines() do
    line = line:gsub("#.*", "")
    local addr, names = line:match("^%s*(%d+%.%d+%.%d+%.%d+)%s+(.+)$")
    if addr and core.ip(addr) then
      for n in names:gmatch("%S+") do
        if n:lower() == want then
          f:close()
          return addr
        end
      end
    end
  end
  f:close()
  return nil
end

-- host (a dotted quad or a hosts-file name) -> host-order address, or
-- nil, "bad address: ...".
function M.resolve(host)
  if type(host) == "number" then return host end
  local addr = core.ip(host)
  if addr then return addr end
  if type(host) == "string" and host:match("^[%w][%w%.%-_]*$") then
    local a = M.lookup(host)
    if a then return core.ip(a) end
    return nil, "bad address: " .. host .. " (not a dotted quad, and not a name in " .. M.path .. ")"
  end
  return nil, "bad address: " .. tostring(host)
end

return M
