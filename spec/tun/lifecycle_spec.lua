-- The binary's life on a real TUN: start-up line, SIGTERM, errors,
-- privileges, --attach and impairment. Needs root (pending otherwise).
local netns = require "helpers.netns"

local STACK = "10.77.0.2"
local IDLE = "spec/tun/scripts/idle.lua"

describe("the tcplua binary on a TUN", function()
  local ok, why = netns.available()

  local function fresh()
    local ns = netns.new()
    finally(function() ns:delete() end)
    return ns
  end

  it("announces itself, stops cleanly on SIGTERM and removes its device", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({ "--stats" }, IDLE)
    assert(ns:wait_up())
    local out, rc = ns:run("ip -o link show dev tcplua0")
    assert.equal(0, rc, out)
    assert.matches("mtu 1500", out)
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.matches("tcplua0 up, stack 10.77.0.2 and fd77::2, host 10.77.0.1/24 and fd77::1/64 %-%- try: ping "
      .. "10.77.0.2, ping %-6 fd77::2", res.stdout)
    assert.is_number(res.stats.ip_in)
    assert.is_number(res.stats.host_tun_rx)
    out, rc = ns:run("ip link show tcplua0")
    assert.are_not.equal(0, rc, "device still there: " .. out)
  end)

  it("stops cleanly on SIGINT too", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({}, IDLE)
    assert(ns:wait_up())
    local res = ns:stop(3000, "INT")
    assert.equal(0, res.rc, res.stderr)
    local out, rc = ns:run("ip link show tcplua0")
    assert.are_not.equal(0, rc, "device still there: " .. out)
  end)

  it("refuses to take over an existing device without --attach", function()
    if not ok then pending(why) return end
    local ns = fresh()
    local out, rc = ns:run("ip tuntap add dev tcplua0 mode tun && " .. netns.quote(netns.bin) .. " " .. IDLE)
    assert.are_not.equal(0, rc)
    assert.matches("tcplua0 already exists", out)
    assert.matches("%-%-attach", out)
    out, rc = ns:run("ip link show tcplua0")
    assert.equal(0, rc, "the existing device was removed: " .. out)
  end)

  it("honours --dev, --addr, --host, --mtu and --quiet", function()
    if not ok then pending(why) return end
    local ns = fresh()
    netns.dev = "tlx9"
    finally(function() netns.dev = "tcplua0" ns:delete() end)
    ns:start({ "--quiet", "--stats", "--dev", "tlx9", "--addr", "192.168.50.7", "--host", "192.168.50.1/28",
      "--mtu", "1280" }, IDLE)
    assert(ns:wait_up())
    local out, rc = ns:run("ip -o -4 addr show dev tlx9; ip -o link show dev tlx9; ping -c 1 -W 2 192.168.50.7")
    assert.equal(0, rc, out)
    assert.matches("192%.168%.50%.1/28", out)
    assert.matches("mtu 1280", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.not_matches("try: ping", res.stdout)
    assert.is_true(res.stats.icmp_out >= 1)
  end)

  it("passes script arguments and exits 0 when the script calls tcplua.stop()", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({ "-q" }, "spec/tun/scripts/args.lua", { "one", "two" })
    local exited = netns.wait_for(function() return ns:exited() end, 5000)
    assert.truthy(exited, "tcplua.stop() did not end the run")
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.matches("args: one,two arg0=spec/tun/scripts/args.lua", res.stdout)
    assert.matches("config: dev=tcplua0 mtu=1500", res.stdout)
  end)

  it("prints the traceback of a runtime error in the script and exits non-zero", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({}, "spec/tun/scripts/boom.lua")
    assert.truthy(netns.wait_for(function() return ns:exited() end, 5000))
    local res = ns:stop()
    assert.are_not.equal(0, res.rc)
    assert.matches("boom%.lua:3: boom from the script", res.stderr)
    assert.matches("stack traceback", res.stderr)
    assert.matches("explode", res.stderr)
  end)

  it("without CAP_NET_ADMIN says what failed and what to do", function()
    if not ok then pending(why) return end
    local ns = fresh()
    local out, rc = ns:run("setpriv --reuid=65534 --regid=65534 --clear-groups " .. netns.quote(netns.bin) .. " " .. IDLE)
    assert.are_not.equal(0, rc)
    assert.matches("/dev/net/tun", out)
    -- The real fixes: sudo, or a TUN owned by the user and --attach (setcap
    -- does not open a 0600 /dev/net/tun for another user).
    assert.matches("sudo", out)
    assert.matches("ip tuntap add dev tcplua0 mode tun user $USER", out, 1, true)
    assert.matches("tcplua --attach", out, 1, true)
  end)

  it("says so when /dev/net/tun is missing", function()
    if not ok then pending(why) return end
    local ns = fresh()
    -- A private mount namespace hides /dev/net/tun from this run only.
    local out, rc = ns:run("unshare -m sh -c 'mount -t tmpfs tmpfs /dev/net && exec "
      .. netns.bin:gsub("'", "") .. " " .. IDLE .. "'")
    assert.are_not.equal(0, rc)
    assert.matches("cannot open /dev/net/tun: No such file or directory", out)
    assert.matches("modprobe tun", out)
  end)

  it("as root but without CAP_NET_ADMIN says TUNSETIFF failed and what to do", function()
    if not ok then pending(why) return end
    local ns = fresh()
    local out, rc = ns:run("setpriv --bounding-set=-net_admin --inh-caps=-net_admin "
      .. netns.quote(netns.bin) .. " " .. IDLE)
    assert.are_not.equal(0, rc)
    assert.matches("TUNSETIFF%): Operation not permitted", out)
    assert.matches("ip tuntap add dev tcplua0 mode tun user $USER", out, 1, true)
    assert.matches("tcplua --attach", out, 1, true)
  end)

  it("--attach uses an existing configured TUN and leaves it in place", function()
    if not ok then pending(why) return end
    local ns = fresh()
    local out, rc = ns:run("ip tuntap add dev tlpersist0 mode tun && ip addr add 10.88.0.1/24 dev tlpersist0 "
      .. "&& ip link set tlpersist0 mtu 1400 up")
    assert.equal(0, rc, out)
    netns.dev = "tlpersist0"
    finally(function() netns.dev = "tcplua0" ns:delete() end)
    ns:start({ "--attach", "--dev", "tlpersist0", "--addr", "10.88.0.2", "--host", "10.88.0.1/24", "--stats" }, IDLE)
    -- The device is up before we start: wait for the stack's answer instead.
    out = netns.wait_for(function()
      local o, r = ns:run("ping -c 1 -W 1 10.88.0.2")
      return r == 0 and o
    end, 5000)
    assert.truthy(out, "no answer through the attached device")
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.matches("tlpersist0 attached", res.stdout)
    out, rc = ns:run("ip -o link show dev tlpersist0")
    assert.equal(0, rc, "the attached device was removed")
    assert.matches("mtu 1400", out)
  end)

  it("--attach to a device that does not exist fails with a clear message", function()
    if not ok then pending(why) return end
    local ns = fresh()
    local out, rc = ns:run(netns.quote(netns.bin) .. " --attach --dev nosuch0 " .. IDLE)
    assert.are_not.equal(0, rc)
    assert.matches("nosuch0: no such network device", out)
  end)

  it("--delay applies to both directions", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({ "--delay", "40ms", "--stats" }, IDLE)
    assert(ns:wait_up())
    local out, rc = ns:run("ping -c 3 -i 0.2 -W 3 " .. STACK)
    assert.equal(0, rc, out)
    for ms in out:gmatch("time=([%d.]+) ms") do
      assert.is_true(tonumber(ms) >= 80, "rtt " .. ms .. " ms is below 2 x 40 ms")
    end
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
  end)

  it("--loss 100% answers nothing and counts the losses", function()
    if not ok then pending(why) return end
    local ns = fresh()
    ns:start({ "--loss", "100%", "--stats" }, IDLE)
    assert(ns:wait_up())
    local out, rc = ns:run("ping -c 2 -i 0.2 -W 1 " .. STACK)
    assert.are_not.equal(0, rc, out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.host_impair_rx_lost >= 2, res.stdout)
    assert.equal(0, res.stats.icmp_in)
  end)
end)
