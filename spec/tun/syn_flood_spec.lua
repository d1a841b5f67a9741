-- Interop: a SYN flood from spoofed sources through the TUN does not lock
-- out real clients (SYN cookies, RFC 4987 3.6, core/tcp/tcp_syncookie.c). The
-- flood is written into the namespace's TUN with a packet socket, from
-- private addresses nothing in the namespace routes (the stack's SYN-ACKs
-- to them die in the namespace's kernel); it is bounded in count and rate
-- and stops by itself. A kernel client connects to the echo server during
-- and after it. Needs root.
local interop = require "helpers.interop"
local netns = require "helpers.netns"
local pkt = require "helpers.tcppkt"

local FLOOD = 50000
local BATCH = 200      -- SYNs per write burst, then a 2 ms pause: at most 100,000 per second
local PROBE = "spec/tools/tcp_connect_probe.lua"

-- The namespace kernel's TCP counters (TcpExt of /proc/net/netstat).
local function tcpext(ns)
  local out = ns:run("cat /proc/net/netstat")
  local names, values
  for line in out:gmatch("[^\n]+") do
    if line:match("^TcpExt:") then
      if not names then names = line else values = line end
    end
  end
  local t = {}
  if not (names and values) then return t end
  local ks, vs = {}, {}
  for w in names:gmatch("%S+") do ks[#ks + 1] = w end
  for w in values:gmatch("%S+") do vs[#vs + 1] = w end
  for i = 2, #ks do t[ks[i]] = tonumber(vs[i]) end
  return t
end

local function rss_kb(pid)
  return tonumber(netns.read_file("/proc/" .. pid .. "/status"):match("VmRSS:%s*(%d+)"))
end

-- Starts the probe in the background; its output lands in name.out, its
-- exit code in name.rc.
local function probe_start(ns, name)
  local base = interop.quote(ns.tmp .. "/" .. name)
  local _, rc = ns:run(("(timeout 20 luajit %s %s 7 > %s.out 2>&1; echo $? > %s.rc) >/dev/null 2>&1 &"):format(
    PROBE, interop.STACK, base, base))
  assert(rc == 0)
end

local function probe_wait(ns, name)
  local rcfile = ns.tmp .. "/" .. name .. ".rc"
  netns.wait_for(function() return netns.read_file(rcfile) ~= "" end, 25000)
  return tonumber(netns.read_file(rcfile)), netns.read_file(ns.tmp .. "/" .. name .. ".out")
end

describe("tcp interop: a spoofed SYN flood", function()
  it("does not stop a kernel client connecting during and after 50,000 SYNs", function()
    local ns = interop.stack({ "--seed", "61" }, "examples/echo.lua")
    if not ns then return end
    -- Room in the TUN's queue for the whole flood: a SYN the device drops
    -- would be retransmitted by the kernel client, whatever the stack did.
    local out, rc = ns:run("ip link set dev " .. netns.dev .. " txqueuelen 60000")
    assert.equal(0, rc, out)
    local ps = ns:packet_socket()
    ns.cleanups[#ns.cleanups + 1] = function() ps:close() end -- one finally() per test: interop's
    local x = 61
    local function rnd()
      x = (x * 1103515245 + 12345) % 2147483648
      return x
    end
    local function syns(n)
      local t = {}
      for i = 1, n do
        local r = rnd()
        t[i] = pkt.build { src = ("10.%d.%d.%d"):format(128 + r % 64, math.floor(r / 64) % 256,
          math.floor(r / 16384) % 254 + 1), dst = interop.STACK, sport = 1024 + rnd() % 60000, dport = 7,
          seq = rnd(), flags = "S", win = 64240, mss = 1460, wscale = 7, sackok = true, ts = { rnd(), 0 } }
      end
      return t
    end
    local ext0 = tcpext(ns)
    local rss0 = assert(rss_kb(ns.pid), "no VmRSS for the binary")
    local sent, rss_max = 0, rss0
    while sent < FLOOD do
      sent = sent + ps:send(syns(math.min(BATCH, FLOOD - sent)))
      if sent == 10000 then probe_start(ns, "during") end
      if sent % 5000 == 0 then rss_max = math.max(rss_max, rss_kb(ns.pid) or 0) end
      netns.sleep_ms(2)
    end
    local rc1, out1 = probe_wait(ns, "during")
    probe_start(ns, "after")
    local rc2, out2 = probe_wait(ns, "after")
    rss_max = math.max(rss_max, rss_kb(ns.pid) or 0)
    local ext1 = tcpext(ns)
    local res = interop.stop(ns)
    local s = res.stats
    io.stderr:write(("syn flood: sent %d, cookies sent %d accepted %d, passive opens %d, %s; %s; "
      .. "RSS %d kB -> max %d kB\n"):format(sent, s.tcp_syncookies_sent or -1, s.tcp_syncookies_accepted or -1,
      s.tcp_passive_open or -1, out1:gsub("\n", ""), out2:gsub("\n", ""), rss0, rss_max))
    assert.equal(FLOOD, sent)
    assert.equal(0, rc1, "probe during the flood: " .. out1 .. " (" .. interop.digest(s) .. ")")
    assert.equal(0, rc2, "probe after the flood: " .. out2 .. " (" .. interop.digest(s) .. ")")
    assert.matches("echo=ok", out1)
    assert.matches("echo=ok", out2)
    -- Neither client had to send its SYN twice (a retransmission comes
    -- after 1 s): the cookie SYN-ACK answered the first one.
    assert.equal(ext0.TCPSynRetrans or 0, ext1.TCPSynRetrans or 0)
    assert.equal(0, res.rc, res.stderr)
    -- The SYN queue (backlog 128) took the first spoofed SYNs; every other
    -- SYN got a cookie and no state; both clients came back with theirs
    -- (passive opens count them too).
    assert.equal(2, s.tcp_syncookies_accepted)
    assert.equal(128 + 2, s.tcp_passive_open)
    assert.equal(0, s.tcp_syncookies_rejected)
    assert.is_true(s.tcp_syncookies_sent >= FLOOD - 128, interop.digest(s))
    assert.equal(0, s.drop_tcp_backlog)
    -- No memory per spoofed SYN.
    assert.is_true(rss_max - rss0 < 4096, ("RSS grew from %d to %d kB"):format(rss0, rss_max))
  end)
end)
