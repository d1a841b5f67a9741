-- Interop: 200 kernel connections open at once, each echoing its own
-- 100 KB of random bytes through examples/echo.lua; every reply must match
-- its own input byte for byte (distinct inputs, so crossed streams would
-- show). The clients live in one process (spec/tools/tcp_fanout.lua): 200
-- nc processes would outnumber tcplua on the run queue and starve it.
-- Needs root (pending otherwise).
local interop = require "helpers.interop"

local STACK = interop.STACK
local CONNS, BYTES = 200, 100 * 1024

describe("tcp interop: concurrency", function()
  it("echoes 100 KB on each of 200 concurrent connections byte-exact", function()
    local ns = interop.stack({ "--seed", "21" }, "examples/echo.lua")
    if not ns then return end
    local out, rc = ns:run(("timeout 90 luajit spec/tools/tcp_fanout.lua %s 7 %d %d 60"):format(STACK, CONNS, BYTES))
    local res = interop.stop(ns)
    assert.equal(0, rc, out .. " (" .. interop.digest(res.stats) .. ")")
    assert.matches(("conns=%d established=%d ok=%d bad=0 unfinished=0"):format(CONNS, CONNS, CONNS), out, 1, true)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(CONNS, res.stats.tcp_passive_open, interop.digest(res.stats))
  end)
end)
