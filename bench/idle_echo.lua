-- examples/echo.lua plus a record of the Lua heap: every 200 ms the peak of
-- collectgarbage("count") (live data plus not yet collected garbage, so an
-- upper bound) and the heap at start are written to the file named by the first argument. The
-- idle-connection figure uses it to split tcplua's memory per connection
-- into the Lua side and the rest.
--   sudo tcplua bench/idle_echo.lua /tmp/lua_kb
local tcp = require "tcplua"

local path = assert((...), "usage: tcplua bench/idle_echo.lua OUTFILE")
local base, peak = collectgarbage("count"), 0
tcp.every(200, function()
  local kb = collectgarbage("count")
  if kb > peak then
    peak = kb
    local f = io.open(path, "w")
    if f then
      f:write(("base_kb=%.0f peak_kb=%.0f\n"):format(base, peak))
      f:close()
    end
  end
end)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
assert(loadfile(here .. "../examples/echo.lua"))()
