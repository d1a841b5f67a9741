-- Interop: 10 MB byte-exact through examples/echo.lua while the binary's
-- impairment wrapper loses 5%, delays 5 ms and reorders 10% of the packets
-- in both directions (--loss 5% --delay 5ms --reorder 10%). Needs root.
local interop = require "helpers.interop"

local STACK = interop.STACK
local MB10 = 10 * 1024 * 1024
local q = interop.quote

-- A string here pends the spec as a known bug (TCPLUA_INTEROP_KNOWN_BUGS=1
-- runs it anyway). Nil: none known.
local KNOWN_BUG = nil

describe("tcp interop: a lossy, slow, reordering link", function()
  it("echoes 10 MB byte-exact with 5% loss, 5 ms delay and 10% reordering each way", function()
    if KNOWN_BUG and not interop.run_known_bugs then pending(KNOWN_BUG) return end
    local ns = interop.stack({ "--seed", "41", "--loss", "5%", "--delay", "5ms", "--reorder", "10%" },
      "examples/echo.lua")
    if not ns then return end
    interop.random_file(ns, "in", MB10)
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 180 nc -N " .. STACK .. " 7 < in > out")
    local res = interop.stop(ns)
    assert.equal(0, rc, "nc failed or timed out: " .. out .. " (" .. interop.digest(res.stats) .. ")")
    assert.equal(MB10, interop.size(ns, "out"))
    assert.equal(interop.sha256(ns, "in"), interop.sha256(ns, "out"))
    assert.equal(0, res.rc, res.stderr)
    -- The impairment really happened, both ways, and TCP repaired it.
    local s = res.stats
    assert.is_true(s.host_impair_rx_lost > 0 and s.host_impair_tx_lost > 0, interop.digest(s))
    assert.is_true(s.host_impair_rx_reordered > 0 and s.host_impair_tx_reordered > 0, interop.digest(s))
    assert.is_true(s.tcp_retrans_segs > 0, interop.digest(s))
  end)
end)
