-- pcapng capture from Lua, over the C writer in core/link/pcap.c.
--
--   local pcap = require "tcplua.pcap"
--   local cap = assert(pcap.open("run.pcapng"))
--   cap:write(pkt, ts_us, "in")                     -- pkt: string or (ptr, len)
--   cap:write(pkt, ts_us, "out", "dropped by fault: loss")
--   cap:close()
--
-- Timestamps are microseconds (int64 or number). A capture left open is
-- flushed and closed when collected, but close() it to know the result.
local cpcap = require "tcplua.c.pcap"

local DIRS = { ["in"] = cpcap.DIR_IN, out = cpcap.DIR_OUT }

local Capture = {}
Capture.__index = Capture

local M = {}

-- The comment Wireshark shows for a packet a fault touched, from any
-- hook verdict ("dropped by fault: loss"); nil for a pass.
M.comment = require("tcplua.fault").describe

function M.open(path)
  local p, err = cpcap.open(path)
  if not p then return nil, string.format("pcap: cannot open %s: %s", path, err) end
  return setmetatable({ p = p, path = path }, Capture)
end

-- write(pkt, ts_us, dir, comment) with pkt a string, or
-- write(ptr, len, ts_us, dir, comment) with a pointer to the bytes.
function Capture:write(pkt, a, b, c, d)
  if not self.p then return nil, "pcap: closed" end
  local len, ts, dir, comment
  if type(pkt) == "string" then
    len, ts, dir, comment = #pkt, a, b, c
  else
    len, ts, dir, comment = a, b, c, d
  end
  local rc = cpcap.write(self.p, pkt, len, ts or 0, DIRS[dir] or cpcap.DIR_UNKNOWN, comment)
  if rc ~= 0 then return nil, "pcap: write failed on " .. self.path end
  return true
end

function Capture:count() return self.p and cpcap.count(self.p) or 0 end

function Capture:close()
  if not self.p then return true end
  local p = self.p
  self.p = nil
  if cpcap.close(p) ~= 0 then return nil, "pcap: write failed on " .. self.path end
  return true
end

return M
