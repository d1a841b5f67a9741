-- Interop: netem's 4-state loss model (--loss 'state P13 P31 P32 P23 P14')
-- between a kernel nc and examples/echo.lua. The kernel sees the inbound
-- chain's losses and repairs them by retransmission (its own counters, in
-- the spec's namespace); the impairment's loss share in each direction is
-- the chain's stationary loss rate; the echo is byte-exact. Needs root.
local interop = require "helpers.interop"

local STACK = interop.STACK
local q = interop.quote
local MB4 = 4 * 1024 * 1024

-- The 4-state chain's stationary loss rate (balance equations: pi3 p31 =
-- pi1 p13, pi2 p23 = pi3 p32, pi4 = pi1 p14).
local function state_loss_rate(p13, p31, p32, p23, p14)
  local r3, r4 = p13 / p31, p14
  local r2 = r3 * p32 / p23
  return (r3 + r4) / (1 + r2 + r3 + r4)
end

-- The kernel's TCP counters in ns (nstat -asz: absolute, no history file).
local function nstat(ns)
  local out = ns:run("nstat -asz")
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local name, v = line:match("^(%w+)%s+(%d+)")
    if name then t[name] = tonumber(v) end
  end
  return t
end

describe("tcp interop: netem's 4-state loss", function()
  it("echoes 4 MB byte-exact through 'loss state 1% 30% 10% 50% 0.5%'; the kernel retransmits", function()
    local p = { 0.01, 0.30, 0.10, 0.50, 0.005 }
    local ns = interop.stack({ "--seed", "7", "--offload", "off", "--loss", "state 1% 30% 10% 50% 0.5%" },
      "examples/echo.lua")
    if not ns then return end
    interop.random_file(ns, "in", MB4)
    local k0 = nstat(ns)
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 180 nc -N " .. STACK .. " 7 < in > out")
    local k1 = nstat(ns)
    local res = interop.stop(ns)
    local s = res.stats
    assert.equal(0, rc, "nc failed or timed out: " .. out .. " (" .. interop.digest(s) .. ")")
    assert.equal(MB4, interop.size(ns, "out"))
    assert.equal(interop.sha256(ns, "in"), interop.sha256(ns, "out"))
    assert.equal(0, res.rc, res.stderr)
    -- Each direction lost about the chain's share of its datagrams.
    local want = state_loss_rate(p[1], p[2], p[3], p[4], p[5])
    for _, dir in ipairs({ "rx", "tx" }) do
      local lost, seen = s["host_impair_" .. dir .. "_lost"], s["host_impair_" .. dir .. "_in"]
      assert.is_true(seen > 2000, dir .. ": only " .. seen .. " datagrams")
      local got = lost / seen
      assert.is_true(math.abs(got - want) < 0.015,
        ("%s: lost %d of %d = %.4f, the chain's rate is %.4f"):format(dir, lost, seen, got, want))
    end
    -- The kernel saw the inbound losses: it resent data segments.
    local retrans = (k1.TcpRetransSegs or 0) - (k0.TcpRetransSegs or 0)
    assert.is_true(retrans > 0, "kernel TcpRetransSegs did not move (" .. interop.digest(s) .. ")")
    -- and tcplua resent what its outbound chain dropped
    assert.is_true(s.tcp_retrans_segs > 0, interop.digest(s))
  end)
end)
