-- tcplua takes the congestion control a kernel socket in its namespace
-- gets by default (net.ipv4.tcp_congestion_control), unless --cc says
-- otherwise, so that set beside the kernel both run one algorithm.
local interop = require "helpers.interop"

local function run(ns, args)
  interop.start(ns, args, "spec/tun/scripts/cc_report.lua")
  local stack_cc = interop.wait_stdout(ns, "stack cc: (%w+)", 5000)
  ns:run("timeout 5 nc -w 2 -z 10.77.0.2 7")
  local conn_cc = interop.wait_stdout(ns, "conn cc: (%w+)", 5000)
  interop.stop(ns)
  return stack_cc, conn_cc
end

describe("congestion control default", function()
  it("follows the namespace's net.ipv4.tcp_congestion_control", function()
    local ns = interop.namespace()
    if not ns then return end
    local host = ns:run("sysctl -n net.ipv4.tcp_congestion_control"):match("%w+")
    local want = ({ reno = "newreno", cubic = "cubic", bbr = "bbr" })[host] or "cubic"
    local stack_cc, conn_cc = run(ns, {})
    assert.equal(want, stack_cc)
    assert.equal(want, conn_cc)
  end)

  it("takes reno as newreno (Linux's reno recovers with SACK)", function()
    local ns = interop.namespace()
    if not ns then return end
    local _, rc = ns:run("sysctl -qw net.ipv4.tcp_congestion_control=reno")
    assert.equal(0, rc, "cannot set the namespace's default to reno")
    local stack_cc, conn_cc = run(ns, {})
    assert.equal("newreno", stack_cc)
    assert.equal("newreno", conn_cc)
  end)

  it("lets --cc override the host's default", function()
    local ns = interop.namespace()
    if not ns then return end
    local stack_cc, conn_cc = run(ns, { "--cc", "cubic" })
    assert.equal("cubic", stack_cc)
    assert.equal("cubic", conn_cc)
  end)
end)
