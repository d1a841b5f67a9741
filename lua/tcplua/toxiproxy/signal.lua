-- A wake-up for coroutines of one runtime: wait() suspends the calling
-- tcplua coroutine until notify() or the timeout, whichever comes first.
-- The toxiproxy links use it between a reader and a writer, and to cut a
-- toxic's wait short when the toxic is changed or removed.
local M = {}

local Sig = {}
Sig.__index = Sig

-- tcp: the API table of a runtime (require "tcplua", or a sim stack).
function M.new(tcp)
  local rt = assert(tcp._runtime, "signal: not a tcplua runtime's API table")
  return setmetatable({ rt = rt, waiting = setmetatable({}, { __mode = "k" }) }, Sig)
end

-- Waits until notify() or ms (nil: no limit). Returns "event" or "timeout".
function Sig:wait(ms)
  local co, rec = self.rt:current("signal:wait")
  self.waiting[co] = true
  local why = self.rt:wait(co, rec, ms and math.max(0, ms) or nil)
  self.waiting[co] = nil
  return why
end

-- Wakes every coroutine waiting now.
function Sig:notify()
  for co in pairs(self.waiting) do
    self.waiting[co] = nil
    self.rt:wake(co, "event")
  end
end

return M
