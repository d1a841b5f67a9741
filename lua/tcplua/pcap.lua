-- pcapng capture from Lua, over the C writer in core/pcap.c.
--
--   local pcap = require "tcplua.pcap"
--   local cap = assert(pcap.open("run.pcapng"))
--   cap:write(pkt, ts_us, "in")                     -- pkt: string or (ptr, len)
--   cap:write(pkt, ts_us, "out", "dropped by fault: loss")
--   cap:close()
--
-- Timestamps are microseconds (int64 or number). A capture left open is
-- flushed and closed when collected, but close() it to know the result.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

-- Another module may have declared it already; either way it is there.
pcall(ffi.cdef, "char *strerror(int errnum);")

local DIRS = { ["in"] = C.TL_PCAP_DIR_IN, out = C.TL_PCAP_DIR_OUT }

local Capture = {}
Capture.__index = Capture

local M = {}

-- The comment Wireshark shows for a packet a fault touched, from any
-- hook verdict ("dropped by fault: loss"); nil for a pass.
M.comment = require("tcplua.fault").describe

function M.open(path)
  local p = C.tl_pcap_open(path)
  if p == nil then
    return nil, string.format("pcap: cannot open %s: %s", path, ffi.string(ffi.C.strerror(ffi.errno())))
  end
  return setmetatable({ p = ffi.gc(p, C.tl_pcap_close), path = path }, Capture)
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
  local rc = C.tl_pcap_write(self.p, ffi.cast("const uint8_t *", pkt), len, ts or 0,
    DIRS[dir] or C.TL_PCAP_DIR_UNKNOWN, comment)
  if rc ~= 0 then return nil, "pcap: write failed on " .. self.path end
  return true
end

function Capture:count() return self.p and tonumber(C.tl_pcap_count(self.p)) or 0 end

function Capture:close()
  if not self.p then return true end
  local p = ffi.gc(self.p, nil)
  self.p = nil
  if C.tl_pcap_close(p) ~= 0 then return nil, "pcap: write failed on " .. self.path end
  return true
end

return M
