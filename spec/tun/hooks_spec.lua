-- Interop for the policy hooks: --loss with --pcap (tshark reads it and
-- finds the retransmissions and the fault comments), the firewall
-- example against two host addresses, a real --tseq capture drawn by
-- scripts/tseq-plot, --trace, --size-limit, and a hook that raises while
-- 1 MB goes through. Needs root (pending otherwise).
local interop = require "helpers.interop"

local STACK = interop.STACK
local q = interop.quote

local function have(tool)
  local p = io.popen("command -v " .. tool .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return out ~= ""
end

local function echo_check(ns, bytes, extra)
  interop.random_file(ns, "in", bytes)
  local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 120 nc -N " .. (extra or "") .. STACK
    .. " 7 < in > out")
  assert.equal(0, rc, "nc failed or timed out: " .. out)
  assert.equal(bytes, interop.size(ns, "out"))
  assert.equal(interop.sha256(ns, "in"), interop.sha256(ns, "out"))
end

local function tshark(file, filter, fields)
  local cmd = "tshark -r " .. q(file) .. (filter and (" -Y " .. q(filter)) or "")
    .. (fields and (" -T fields -e " .. fields) or "") .. " 2>/dev/null"
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local function count_lines(s)
  local n = 0
  for _ in s:gmatch("[^\n]+") do n = n + 1 end
  return n
end

describe("hooks interop", function()
  it("--loss 10% echoes 2 MB exactly; the pcap shows drops and retransmissions", function()
    local ns = interop.namespace()
    if not ns then return end
    local pcap = ns.tmp .. "/run.pcapng"
    interop.start(ns, { "--seed", "7", "--loss", "10%", "--pcap", pcap }, "examples/echo.lua")
    echo_check(ns, 2 * 1024 * 1024)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.impair_dropped > 0, interop.digest(res.stats))
    if not have("tshark") then pending("tshark is not installed: the capture was not checked") return end
    assert.equal(0, count_lines(tshark(pcap, "_ws.malformed")))
    assert.is_true(count_lines(tshark(pcap, "tcp.analysis.retransmission")) > 0)
    local comments = tshark(pcap, "frame.comment", "frame.comment")
    assert.truthy(comments:find("dropped by fault: loss", 1, true))
    assert.equal(res.stats.impair_dropped, count_lines(comments))
  end)

  it("the firewall example refuses the denied source and serves the other", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, {}, "examples/firewall.lua", { "10.77.0.9", "50" })
    local _, rc = ns:run("ip addr add 10.77.0.9/24 dev tcplua0")
    assert.equal(0, rc)
    local out, rc2 = ns:run("echo hello | timeout 10 nc -N -s 10.77.0.9 " .. STACK .. " 7")
    assert.are_not.equal(0, rc2)
    assert.falsy(out:find("hello", 1, true))
    echo_check(ns, 100000, "-s 10.77.0.1 ")
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.hook_dropped >= 1, interop.digest(res.stats))
  end)

  it("scripts/tseq-plot draws a PNG from a real --tseq capture under loss", function()
    local ns = interop.namespace()
    if not ns then return end
    local csv = ns.tmp .. "/run.csv"
    interop.start(ns, { "--seed", "3", "--loss", "3%", "--tseq", csv }, "examples/echo.lua")
    echo_check(ns, 300000)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    local text = interop.read_file(csv)
    assert.truthy(text:find("^t_ms,kind,dir,seq"))
    assert.truthy(text:find(",sample,", 1, true))
    assert.truthy(text:find("retrans", 1, true))
    if not have("gnuplot") then pending("gnuplot is not installed") return end
    local png = ns.tmp .. "/run.png"
    local p = io.popen("scripts/tseq-plot " .. q(csv) .. " " .. q(png) .. " 2>&1; echo rc=$?")
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("rc=0", 1, true), out)
    local f = assert(io.open(png, "rb"))
    local head = f:read(8)
    f:close()
    assert.equal("\137PNG\r\n\26\n", head)
  end)

  it("--trace prints one line per segment with state; --size-limit drops large datagrams", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, { "--trace", "--size-limit", "1000" }, "examples/echo.lua")
    local out, rc = ns:run("echo hi | timeout 10 nc -N " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("hi\n", out)
    local _, rc2 = ns:run("ping -c 1 -W 1 -s 1200 " .. STACK)
    assert.are_not.equal(0, rc2)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.truthy(res.stderr:find("in 10.77.0.1.%d+ > 10.77.0.2.7: Flags %[S%]"), res.stderr)
    assert.truthy(res.stderr:find("Flags %[S%.%].-SYN%-RECEIVED"), res.stderr)
    assert.truthy(res.stderr:find("ESTABLISHED", 1, true), res.stderr)
    assert.is_true(res.stats.host_impair_rx_oversize >= 1, interop.digest(res.stats))
  end)

  it("the chaos example echoes byte-exact through its faults", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, { "--seed", "9" }, "examples/chaos.lua", { "loss=0.03", "delay=5", "jitter=2", "reorder=0.01" })
    echo_check(ns, 500000)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.hook_dropped > 0 and res.stats.hook_delayed > 0, interop.digest(res.stats))
  end)

  it("the blackhole example echoes N bytes, then nothing", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, {}, "examples/blackhole.lua", { "1000" })
    interop.random_file(ns, "in", 5000)
    local _, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 3 nc " .. STACK .. " 7 < in > out")
    assert.equal(124, rc) -- the client hangs until timeout(1) ends it
    assert.equal(1000, interop.size(ns, "out"))
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.hook_dropped > 0, interop.digest(res.stats))
  end)

  it("the slowloris guard resets a slow client and serves a quick one", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, {}, "examples/slowloris_guard.lua", { "2", "300" })
    local out, rc = ns:run("(sleep 2) | timeout 5 nc " .. STACK .. " 80")
    assert.are.equal("", out)
    assert.are_not.equal(124, rc) -- ended by the server, not by timeout(1)
    out = ns:run("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc " .. STACK .. " 80")
    assert.matches("^HTTP/1.1 200 OK", out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.tcp_rst_out >= 1, interop.digest(res.stats))
  end)

  it("the trace example prints the segments of an echo", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, {}, "examples/trace.lua")
    local out = ns:run("echo hi | timeout 5 nc -N " .. STACK .. " 7")
    assert.equal("hi\n", out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.truthy(res.stdout:find("in 10.77.0.1.%d+ > 10.77.0.2.7: Flags %[S%].- LISTEN"), res.stdout)
    assert.truthy(res.stdout:find("out 10.77.0.2.7 > 10.77.0.1.%d+: Flags %[P%.%], seq %d+:%d+.-length 3"), res.stdout)
  end)

  it("a hook that raises does not disturb a 1 MB transfer", function()
    local ns = interop.namespace()
    if not ns then return end
    local script = ns.tmp .. "/raising.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local tcplua = require "tcplua"
local n = 0
tcplua.on_segment(function(seg)
  n = n + 1
  if n % 50 == 0 then error("hook bug " .. n) end
end)
dofile("examples/echo.lua")
]])
    f:close()
    interop.start(ns, {}, script)
    echo_check(ns, 1024 * 1024)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.truthy(res.stderr:find("hook bug 50", 1, true), res.stderr)
    assert.truthy(res.stderr:find("traceback", 1, true))
  end)
end)
