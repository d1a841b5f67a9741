-- Interop: flow control against the kernel on a clean link. A reader that
-- lets its receive buffer fill makes the stack close and reopen its window
-- many times; the kernel only ever sends inside the advertised window, so
-- no segment may be refused or queued out of order (RFC 9293 3.8.6: the
-- window is a promise; RFC 7323 2.3: the scaled field must not promise more
-- than the buffer holds). Refused duplicates are fine: the kernel's tail
-- loss probe may resend the segment that filled the window. Needs root.
local interop = require "helpers.interop"

local STACK = interop.STACK
local q = interop.quote
local BYTES = 300000

-- A string here pends the spec as a known bug (TCPLUA_INTEROP_KNOWN_BUGS=1
-- runs it anyway). Nil: none known.
local KNOWN_BUG = nil

describe("tcp interop: receive window against the kernel", function()
  it("a slow reader closes and reopens the window without dropping in-window data", function()
    if KNOWN_BUG and not interop.run_known_bugs then pending(KNOWN_BUG) return end
    local ns = interop.stack({ "--seed", "61" }, "spec/tun/scripts/tcp_slow_reader.lua", { "7003", "20", "7777" })
    if not ns then return end
    interop.random_file(ns, "in", BYTES)
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 60 nc -N " .. STACK .. " 7003 < in")
    assert.equal(0, rc, out)
    assert.truthy(interop.wait_stdout(ns, "reader: received=" .. BYTES .. " err=closed", 10000),
      interop.stdout(ns))
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.tcp_window_update > 0, "the window never closed: " .. interop.digest(res.stats))
    assert.equal(0, res.stats.tcp_ooo_segs, interop.digest(res.stats))
  end)
end)
