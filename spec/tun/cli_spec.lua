-- Command-line errors of the tcplua binary. None of these needs root: they
-- are all caught before the TUN is touched.
local netns = require "helpers.netns"

local function run(args)
  return netns.sh("env -u LD_PRELOAD -u TCPLUA_LIB " .. netns.quote(netns.bin) .. " " .. args)
end

describe("tcplua command line", function()
  local tmp = os.tmpname()
  teardown(function() os.remove(tmp) end)

  it("prints usage on --help and the version on --version", function()
    local out, rc = run("--help")
    assert.equal(0, rc)
    assert.matches("usage: tcplua %[options%] SCRIPT", out)
    assert.matches("%-%-loss", out)
    out, rc = run("--version")
    assert.equal(0, rc)
    assert.matches("^tcplua %d+%.%d+", out)
  end)

  it("rejects an unknown flag with exit 2, naming it", function()
    local out, rc = run("--frobnicate x.lua")
    assert.equal(2, rc)
    assert.matches("unknown option '%-%-frobnicate'", out)
    assert.matches("try %-%-help", out)
  end)

  it("rejects bad option values with exit 2, naming the flag", function()
    for _, case in ipairs({
      { "--loss 150%", "%-%-loss" }, { "--loss abc", "%-%-loss" }, { "--delay 5parsecs", "%-%-delay" },
      { "--rate 10mbitz", "%-%-rate" }, { "--mtu 70000", "%-%-mtu" }, { "--cc vegas", "%-%-cc" }, { "--addr 10.0.0.300", "%-%-addr" },
      { "--host 10.0.0.1/40", "%-%-host" }, { "--seed -1", "%-%-seed" }, { "--reorder 2", "%-%-reorder" },
      { "--loss 'state'", "%-%-loss" }, { "--loss 'gemodel 1% x'", "%-%-loss" },
      { "--delay '10ms 2ms distribution cauchy'", "%-%-delay" }, { "--slot '20ms 10ms'", "%-%-slot" },
      { "--rate '1mbit 20 x'", "%-%-rate" }, { "--netem 'loss 1% ecn'", "%-%-netem" },
      { "--addr6 fd77::2::1", "%-%-addr6" }, { "--addr6 ff02::1", "%-%-addr6" }, { "--host6 fd77::1/128", "%-%-host6" },
      { "--ipv6 maybe", "%-%-ipv6" }, { "--addr fd77:::2", "%-%-addr" },
    }) do
      local out, rc = run(case[1] .. " x.lua")
      assert.equal(2, rc, case[1] .. ": " .. out)
      assert.matches(case[2] .. ": bad value", out)
      assert.matches("try %-%-help", out)
    end
    local out, rc = run("--dev")
    assert.equal(2, rc)
    assert.matches("%-%-dev needs a value", out)
  end)

  it("accepts the documented value forms", function()
    -- A missing script is reported after the options were accepted.
    for _, opts in ipairs({
      "--loss 5%", "--loss 0.05", "--delay 20ms", "--delay 1s", "--delay 500us", "--jitter 5ms",
      "--reorder 1%", "--duplicate 0.5%", "--corrupt 0", "--rate 10mbit", "--rate 1gbit", "--rate 500kbit",
      "--loss '1% 25%'", "--loss 'state 1% 30% 20% 40% 2%'", "--loss 'gemodel 1% 30% 100% 0%'",
      "--delay '20ms 5ms 25% distribution normal'", "--duplicate '1% 50%'", "--corrupt 0.1%,25%",
      "--reorder '10% 25% gap 5'", "--rate '1mbit 20 48 5'", "--slot '10ms 20ms packets 4 bytes 3000'",
      "--slot 'distribution pareto 10ms 2ms'", "--netem 'delay 20ms 5ms loss state 1% slot 5ms rate 10mbit'",
      "--mtu 9000", "--seed 42", "--cc bbr", "--addr 10.1.2.3 --host 10.1.2.1/24", "--dev tl7 --attach -q --stats",
      "--addr6 fd00::5 --host6 fd00::1/48", "--addr fd00::5 --host fd00::1", "--no-ipv6", "--ipv6 off", "--ipv6 on",
    }) do
      local out, rc = run(opts .. " /nonexistent/x.lua")
      assert.equal(1, rc, opts .. ": " .. out)
      assert.matches("cannot read script", out, 1, false, opts)
    end
  end)

  it("says when no script is given", function()
    local out, rc = run("")
    assert.equal(2, rc)
    assert.matches("no script given", out)
  end)

  it("says when the script is missing", function()
    local out, rc = run("/nonexistent/tcplua-no-such-script.lua")
    assert.are_not.equal(0, rc)
    assert.matches("cannot read script /nonexistent/tcplua%-no%-such%-script%.lua: No such file", out)
  end)

  it("--sim runs a sim script without root or a TUN, with its arguments", function()
    -- As an unprivileged user where one exists (root has no other here).
    local as = netns.sh("id -u nobody"):match("^%d+") and "su nobody -s /bin/sh -c " or "sh -c "
    local out, rc = netns.sh("cd /tmp && " .. as .. netns.quote("env -u LD_PRELOAD -u TCPLUA_LIB "
      .. netns.quote(netns.bin) .. " --sim " .. netns.quote(os.getenv("PWD") .. "/examples/sim_echo.lua") .. " ping"))
    assert.equal(0, rc, out)
    assert.matches("1 ping\n2 ping\n3 ping\nretransmissions: %d+, virtual time: %d+ ms", out)
  end)

  it("--sim reports a script error with its traceback, exit 1; no script is exit 2", function()
    local f = assert(io.open(tmp, "w"))
    f:write("local function f() error('sim failed') end\nf()\n")
    f:close()
    local out, rc = run("--sim " .. netns.quote(tmp))
    assert.equal(1, rc)
    assert.matches("sim failed", out)
    assert.matches("stack traceback", out)
    out, rc = run("--sim")
    assert.equal(2, rc)
    assert.matches("%-%-sim needs a script", out)
  end)

  it("without privilege, names the real fixes (sudo, a TUN owned by the user and --attach)", function()
    local uid = tonumber(netns.sh("id -u"):match("%d+"))
    local has_nobody = netns.sh("id -u nobody"):match("^%d+")
    if uid == 0 and not has_nobody then pending("no unprivileged user to run as") return end
    local f = assert(io.open(tmp, "w"))
    f:write("print('unreachable')\n")
    f:close()
    netns.sh("chmod 0644 " .. netns.quote(tmp))   -- readable by the other user
    -- Fails at /dev/net/tun or TUNSETIFF, before any device exists.
    local cmd = "env -u LD_PRELOAD -u TCPLUA_LIB " .. netns.quote(netns.bin) .. " --dev tlnopriv0 " .. netns.quote(tmp)
    local out, rc = netns.sh(uid == 0 and ("su nobody -s /bin/sh -c " .. netns.quote(cmd)) or cmd)
    assert.equal(1, rc, out)
    assert.matches("sudo", out)
    assert.matches("ip tuntap add dev tcplua0 mode tun user $USER", out, 1, true)
    assert.matches("tcplua --attach", out, 1, true)
    assert.is_nil(out:find("setcap", 1, true))
  end)

  it("reports a Lua syntax error as file:line", function()
    local f = assert(io.open(tmp, "w"))
    f:write("local ok = 1\nlocal x = (1 +\n\nprint(x\n")
    f:close()
    local out, rc = run(netns.quote(tmp))
    assert.are_not.equal(0, rc)
    assert.matches(tmp:gsub("%p", "%%%0") .. ":%d+:", out)
  end)
end)
