-- The discard service with a no-op segment hook installed: scripts/bench
-- compares its receive rate with plain examples/discard.lua to price the
-- Lua segment hook (hooks issue: tcplua.on_segment).
--   sudo tcplua bench/hook_discard.lua [PORT]
local tcp = require "tcplua"

if type(tcp.on_segment) ~= "function" then
  error("tcplua.on_segment not available yet", 0)
end
tcp.on_segment(function(seg, dir) end)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
assert(loadfile(here .. "../examples/discard.lua"))(...)
