-- Changes one byte of each response at stream offset OFFSET (default
-- 4096, past an HTTP header) and fixes the checksums, so the client takes
-- the wrong byte: what a checksum cannot catch (a broken proxy, memory).
--   sudo scripts/netns gateway up -- examples/gateway_corrupt_body.lua 4096
local tcplua = require "tcplua"
local fault = require "tcplua.fault"

local offset = tonumber(arg[1]) or 4096
local done = {}

tcplua.on_segment(function(seg)
  local f = seg.flow
  if not f or f.dir ~= "s2c" or seg.len == 0 or done[f.client] then return end
  local start = (seg.seq - f.isn_s2c - 1) % 4294967296 -- stream offset of the payload
  local at = offset - start
  if at < 0 or at >= seg.len then return end
  done[f.client] = true
  local p = seg.payload
  local b = string.char((p:byte(at + 1) + 1) % 256)
  return fault.copy(seg, { payload = p:sub(1, at) .. b .. p:sub(at + 2), fault = "one body byte changed" })
end)
