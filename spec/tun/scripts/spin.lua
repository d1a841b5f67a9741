-- Port 7 echoes; a connection to port 9 runs a loop that never yields.
-- The loop's kind is the first argument:
--   while   local x = 0; while true do x = x + 1 end   (a trace, unguarded)
--   for     for i = 1, 1e12 do end                       (a trace, unguarded)
--   module  the while loop inside spin_mod.lua, reached through require
--   events  the while loop in an on_data callback (tcplua.evserver)
--   jiton   the while loop in a function the script gave back to the JIT
--           with jit.on(fn, true): out of the watchdog's reach
--   cstuck  a C call that blocks for ever (poll(2) with no timeout)
--   cspin   a C call that computes for ever (a pattern that backtracks)
-- With a second argument "trace", every trace LuaJIT compiles in this file
-- or spin_mod.lua is reported on stderr as "spin: trace at FILE:LINE".
-- A third argument N (ms) makes the top level busy for N ms of CPU first.
-- Used by spec/tun/watchdog_spec.lua.
local tcp = require "tcplua"
local mode, report, busy_ms = ...
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

if report == "trace" then
  local util = require "jit.util"
  local started = {}
  jit.attach(function(what, tr, func, pc)
    if what == "start" then
      local fi = util.funcinfo(func, pc)
      started[tr] = fi.source and fi.source:match("spin") and fi.source:match("[^/]*$") .. ":" .. fi.currentline
    elseif what == "stop" and started[tr] then
      io.stderr:write("spin: trace at ", started[tr], "\n")
    end
  end, "trace")
end

if busy_ms then
  local t0 = os.clock()
  while os.clock() - t0 < tonumber(busy_ms) / 1000 do end
  io.stderr:write("spin: top level was busy for ", busy_ms, " ms\n")
end

tcp.listen(7, function(c)
  while true do
    local d = c:receiveany(65536)
    if not d then break end
    c:send(d)
  end
end)

if mode == "events" then
  tcp.listen(9, {
    on_data = function()
      local x = 0; while true do x = x + 1 end -- SPIN events
    end,
  })
else
  tcp.listen(9, function(c)
    c:receiveany(1)
    if mode == "for" then
      for _ = 1, 1e12 do end -- SPIN for
    elseif mode == "module" then
      require("spin_mod").spin()
    elseif mode == "cstuck" then
      local ffi = require "ffi"
      pcall(ffi.cdef, "int poll(void *fds, unsigned long nfds, int timeout);")
      io.stderr:write("spin: entering C\n")
      ffi.C.poll(nil, 0, -1) -- SPIN cstuck
    elseif mode == "cspin" then
      io.stderr:write("spin: entering C\n")
      string.find(string.rep("a", 100000), ".-.-.-.-.-.-b") -- SPIN cspin
    elseif mode == "jiton" then
      local function spin()
        local x = 0; while true do x = x + 1 end -- SPIN jiton
      end
      jit.on(spin, true)
      spin()
    else
      local x = 0; while true do x = x + 1 end -- SPIN while
    end
  end)
end
