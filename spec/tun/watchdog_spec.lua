-- The watchdog (core/host/host_watchdog.c) on a real TUN: a handler that loops
-- without yielding is interrupted after --lua-timeout of CPU, its
-- connection is reset and the stack goes on serving; with the watchdog off
-- the loop is a compiled trace that holds the stack, and SIGTERM/SIGINT
-- still end the process (exit 0, device removed). The binary forces the
-- exit 450 ms after the signal; the specs wait for it with a bound (3 s)
-- and assert no time. Needs root (pending otherwise).
local netns = require "helpers.netns"

local STACK = "10.77.0.2"
local SPIN = "spec/tun/scripts/spin.lua"

-- Connects to PORT, sends a byte and reports what came back: "reset",
-- "eof", "data" or "timeout" (after WAIT seconds), then the local port.
local PROBE = [[
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
port = s.getsockname()[1]
s.sendall(b"x")
try:
    print("data" if s.recv(100) else "eof", port)
except ConnectionResetError:
    print("reset", port)
except socket.timeout:
    print("timeout", port)
]]

-- "file:line" of the loop tagged "-- SPIN <mode>" in the spin scripts.
local function spin_line(mode)
  for _, f in ipairs({ SPIN, "spec/tun/scripts/spin_mod.lua" }) do
    local n = 0
    for line in io.lines(f) do
      n = n + 1
      if line:match("%-%- SPIN " .. mode .. "$") then return f, n end
    end
  end
  error("no SPIN " .. mode .. " line")
end

local function esc(s) return (s:gsub("%p", "%%%0")) end

describe("the watchdog", function()
  local ok, why = netns.available()

  local function stack(args, mode, busy_ms)
    local ns = netns.new()
    finally(function() ns:delete() end)
    local f = assert(io.open(ns.tmp .. "/probe.py", "w"))
    f:write(PROBE)
    f:close()
    ns:start(args, SPIN, { mode, "trace", busy_ms })
    assert(ns:wait_up())
    return ns
  end

  -- What a probe of port 9 saw and its local port.
  local function probe(ns, wait_s)
    local out = ns:run(("timeout %d python3 %s %s 9 %s"):format(wait_s + 5, netns.quote(ns.tmp .. "/probe.py"),
      STACK, wait_s))
    local what, port = out:match("(%a+) (%d+)")
    assert(what, "probe failed: " .. out)
    return what, port
  end

  local function serving(ns)
    local out, rc = ns:run("ping -c 1 -W 3 " .. STACK)
    assert.equal(0, rc, "ping: " .. out)
    out = ns:run("printf 'still here\\n' | timeout 10 nc -N " .. STACK .. " 7")
    assert.equal("still here\n", out)
  end

  local function gone(ns)
    local out, rc = ns:run("ip link show tcplua0")
    assert.are_not.equal(0, rc, "device still there: " .. out)
  end

  for _, case in ipairs({
    { mode = "while", what = "connection handler" },
    { mode = "for", what = "connection handler" },
    { mode = "module", what = "connection handler" },
    { mode = "events", what = "on_data callback" },
  }) do
    it("resets a connection whose " .. case.mode .. " loop runs past --lua-timeout, names the line and the "
      .. "connection, and goes on serving", function()
      if not ok then pending(why) return end
      local ns = stack({ "--stats", "--lua-timeout", "200" }, case.mode)
      local file, line = spin_line(case.mode)
      local what, port = probe(ns, 5)
      assert.equal("reset", what, netns.read_file(ns.err))
      local err = netns.read_file(ns.err)
      assert.matches("error in " .. case.what .. ": 10%.77%.0%.1:" .. port .. " %-> :9: " .. esc(file) .. ":" .. line
        .. ": Lua ran for more than 200 ms of CPU without yielding %(%-%-lua%-timeout%)", err)
      assert.matches("stack traceback:", err)
      -- The guard kept the loop in the interpreter: LuaJIT compiled no trace for it.
      assert.not_matches("spin: trace at " .. esc(file:match("[^/]*$")) .. ":" .. line .. "\n", err)
      serving(ns)
      -- New connections to the same handler are served (and reset) alike.
      assert.equal("reset", (probe(ns, 5)))
      serving(ns)
      local res = ns:stop(3000)
      assert.equal(0, res.rc, res.stderr)
      assert.equal(2, res.stats.host_lua_timeouts)
      gone(ns)
    end)
  end

  it("leaves the script's top level alone: setting up may take longer than --lua-timeout", function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats", "--lua-timeout", "50" }, "while", "300")
    -- The device comes up before the script runs: wait for the listeners.
    assert(netns.wait_for(function()
      return netns.read_file(ns.err):match("top level was busy") or ns:exited()
    end, 10000), netns.read_file(ns.err))
    serving(ns)
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.not_matches("Lua ran for more than", res.stderr)
    assert.equal(0, res.stats.host_lua_timeouts)
  end)

  it("is off with --lua-timeout 0: the loop is a compiled trace that holds the stack, and SIGTERM still ends "
    .. "the process with exit 0, its counters and the device removed", function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats", "--lua-timeout", "0" }, "while")
    local file, line = spin_line("while")
    assert.equal("timeout", (probe(ns, 1)))
    -- The loop really is compiled: the hook-based watchdog could not reach it.
    assert(netns.wait_for(function()
      return netns.read_file(ns.err):match("spin: trace at " .. esc(file:match("[^/]*$")) .. ":" .. line .. "\n")
    end, 5000), netns.read_file(ns.err))
    local _, rc = ns:run("ping -c 1 -W 1 " .. STACK)
    assert.are_not.equal(0, rc, "the stuck stack answered a ping")
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.matches("Lua did not return within %d+ ms of the signal", res.stderr)
    assert.is_number(res.stats.ip_in, res.stdout .. res.stderr)
    assert.is_number(res.stats.host_lua_timeouts, res.stdout .. res.stderr)
    gone(ns)
  end)

  it("says when a loop is out of its reach (the script gave it back to the JIT), and SIGTERM still ends it",
    function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats", "--lua-timeout", "100" }, "jiton")
    local file, line = spin_line("jiton")
    assert.equal("timeout", (probe(ns, 1)))
    assert(netns.wait_for(function()
      return netns.read_file(ns.err):match("where the watchdog cannot interrupt it")
    end, 5000), netns.read_file(ns.err))
    assert.matches("spin: trace at " .. esc(file:match("[^/]*$")) .. ":" .. line .. "\n", netns.read_file(ns.err))
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(0, res.stats.host_lua_timeouts)
    gone(ns)
  end)

  it("ends a process blocked in a C call on SIGTERM: the signal interrupts the call (EINTR) and the run ends "
    .. "the ordinary way", function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats" }, "cstuck")
    assert.equal("timeout", (probe(ns, 1)))
    assert.matches("spin: entering C", netns.read_file(ns.err))
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.not_matches("did not return within", res.stderr)
    assert.is_number(res.stats.hook_errors, res.stdout .. res.stderr)
    gone(ns)
  end)

  it("ends a process computing in a C call on SIGTERM: exit 0, counters, device removed",
    function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats", "--lua-timeout", "100" }, "cspin")
    assert.equal("timeout", (probe(ns, 1)))
    assert(netns.wait_for(function()
      return netns.read_file(ns.err):match("where the watchdog cannot interrupt it")
    end, 5000), netns.read_file(ns.err))
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.matches("Lua did not return within %d+ ms of the signal", res.stderr)
    assert.is_number(res.stats.ip_in, res.stdout .. res.stderr)
    gone(ns)
  end)

  it("interrupts a step still running in the interpreter on SIGTERM and shuts down the ordinary way", function()
    if not ok then pending(why) return end
    local ns = stack({ "--stats", "--lua-timeout", "60000" }, "while")
    local file, line = spin_line("while")
    assert.equal("timeout", (probe(ns, 1)))
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.matches(esc(file) .. ":" .. line .. ": interrupted: tcplua is stopping %(SIGTERM%)", res.stderr)
    assert.not_matches("did not return within", res.stderr)
    -- The script's shutdown ran: the counters only Lua keeps are there too.
    assert.is_number(res.stats.hook_errors, res.stdout .. res.stderr)
    assert.equal(0, res.stats.host_lua_timeouts)
    gone(ns)
  end)

  it("exits at once on a second SIGINT while Lua is stuck in a compiled loop", function()
    if not ok then pending(why) return end
    local ns = stack({ "--lua-timeout", "0" }, "while")
    assert.equal("timeout", (probe(ns, 1)))
    netns.sh("kill -INT " .. ns.pid)
    -- The first signal is taken once the watchdog says it waits for Lua.
    assert(netns.wait_for(function()
      return ns:exited() or netns.read_file(ns.err):match("stopping on SIGINT")
    end, 3000), netns.read_file(ns.err))
    local res = ns:stop(3000, "INT")
    assert.equal(0, res.rc, res.stderr)
    assert.matches("second signal, exiting at once", res.stderr)
    assert.not_matches("did not return within", res.stderr)
    gone(ns)
  end)

  it("takes --lua-timeout in ms (0 = off) and refuses other values, saying what it expects", function()
    local bin = netns.quote(netns.bin)
    local out, rc = netns.sh(bin .. " --help")
    assert.equal(0, rc)
    assert.matches("%-%-lua%-timeout MS", out)
    for _, bad in ipairs({ "abc", "-5", "0.5", "5x", "" }) do
      out, rc = netns.sh(bin .. " --lua-timeout '" .. bad .. "' " .. SPIN)
      assert.equal(2, rc, bad .. ": " .. out)
      assert.matches("%-%-lua%-timeout: bad value '" .. esc(bad) .. "' %(expected milliseconds", out)
    end
    -- Good values pass: the parser goes on to the next flag (a bad --dev
    -- here, so nothing starts).
    for _, good in ipairs({ "0", "1", "250", "2s" }) do
      out, rc = netns.sh(bin .. " --lua-timeout " .. good .. " --dev '' " .. SPIN)
      assert.equal(2, rc, out)
      assert.matches("%-%-dev: bad value", out, 1, false)
    end
  end)
end)
