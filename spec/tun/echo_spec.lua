-- TCP through a real TUN: the kernel's nc talks to examples/echo.lua in a
-- fresh network namespace. Needs root (pending otherwise).
local netns = require "helpers.netns"

local STACK = "10.77.0.2"

describe("examples/echo.lua on a TUN", function()
  local ok, why = netns.available()

  local function started(args)
    local ns = netns.new()
    finally(function() ns:delete() end)
    local a = { "--stats" }
    for _, x in ipairs(args or {}) do a[#a + 1] = x end
    ns:start(a, "examples/echo.lua")
    assert(ns:wait_up())
    return ns
  end

  -- Sends `bytes` random bytes through the echo service `conns` times in
  -- parallel; returns the shell output (cmp reports any difference).
  local function echo_files(ns, bytes, conns, timeout_s)
    local script = table.concat({
      "set -e; cd " .. netns.quote(ns.tmp),
      "head -c " .. bytes .. " /dev/urandom > in",
      "i=0; while [ $i -lt " .. conns .. " ]; do",
      "  timeout " .. timeout_s .. " nc -N " .. STACK .. " 7 < in > out.$i &",
      "  i=$((i + 1)); done; wait",
      "i=0; while [ $i -lt " .. conns .. " ]; do cmp in out.$i; i=$((i + 1)); done",
      "echo all-equal",
    }, "\n")
    return ns:run(script)
  end

  it("echoes a line back to nc", function()
    if not ok then pending(why) return end
    local ns = started()
    local out, rc = ns:run("printf 'hello tcplua\\n' | timeout 10 nc -N " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("hello tcplua\n", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.tcp_passive_open)
  end)

  it("stops on SIGTERM with a connection open", function()
    if not ok then pending(why) return end
    local ns = started()
    -- nc keeps the connection open as long as its stdin is (bounded by
    -- timeout; ns:delete() also ends whatever is left in the namespace).
    local cmd = "timeout 10 sh -c 'sleep 5 | nc " .. STACK .. " 7' >/dev/null 2>&1 </dev/null & "
      .. "for i in $(seq 100); do ss -tnH state established dst " .. STACK .. " | grep -q . && exit 0; "
      .. "sleep 0.05; done; exit 1"
    local out, rc = ns:run(cmd)
    assert.equal(0, rc, "the connection never got established: " .. out)
    local res = ns:stop(3000)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.tcp_conn_established)
  end)

  it("returns 4 MiB byte for byte", function()
    if not ok then pending(why) return end
    local ns = started()
    local out, rc = echo_files(ns, 4 * 1024 * 1024, 1, 30)
    assert.equal(0, rc, out)
    assert.matches("all%-equal", out)
    assert.equal(0, ns:stop().rc)
  end)

  it("serves 20 concurrent connections", function()
    if not ok then pending(why) return end
    local ns = started()
    local out, rc = echo_files(ns, 200 * 1024, 20, 30)
    assert.equal(0, rc, out)
    assert.matches("all%-equal", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.equal(20, res.stats.tcp_passive_open)
  end)

  it("recovers from 2% loss each way (--loss 2%)", function()
    if not ok then pending(why) return end
    local ns = started({ "--loss", "2%", "--seed", "7" })
    local out, rc = echo_files(ns, 256 * 1024, 1, 60)
    assert.equal(0, rc, out)
    assert.matches("all%-equal", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.host_impair_rx_lost + res.stats.host_impair_tx_lost > 0, res.stdout)
  end)
end)
