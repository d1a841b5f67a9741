-- tcplua --gateway with a no-op segment hook: scripts/bench's gateway
-- section prices the hook on forwarded traffic (every datagram held,
-- shown to Lua, released) against the direct path.
local tcplua = require "tcplua"
tcplua.on_segment(function() end)
