-- SYN cookies (RFC 4987 3.6, core/tcp/tcp_syncookie.c): a listener whose SYN
-- queue is full answers further SYNs with a cookie SYN-ACK and keeps no
-- state; the ACK that returns the cookie makes the connection, with the
-- options the SYN asked for. Spoofed SYN floods come from a raw endpoint of
-- the sim, from random sources no endpoint owns (their SYN-ACKs go nowhere).
local core = require "tcplua.core"
local pkt = require "helpers.tcppkt"
local C, ffi = core.C, core.ffi
local bit = require "bit"

local PORT = 80

-- n spoofed SYNs to dst:PORT from random addresses of 10.128.0.0/9 (not
-- in the sim), sent by raw endpoint ep in batches of 500 with step() run
-- between (it advances virtual time a little and delivers them).
local function flood(simc, ep, dst, n, seed, step)
  local x = seed
  local function rnd()
    x = (x * 1103515245 + 12345) % 2147483648
    return x
  end
  local sent = 0
  while sent < n do
    for _ = 1, math.min(500, n - sent) do
      local r = rnd()
      local src = ("10.%d.%d.%d"):format(128 + r % 128, math.floor(r / 128) % 256, math.floor(r / 32768) % 254 + 1)
      local b = pkt.build { src = src, dst = dst, sport = 1024 + rnd() % 60000, dport = PORT, seq = rnd(),
        flags = "S", win = 64240, mss = 1460, wscale = 7, sackok = true, ts = { rnd(), 0 } }
      C.tl_sim_send(simc, ep, b, #b)
      sent = sent + 1
    end
    step()
  end
end

-- A scripted peer (10.0.0.1) in front of a stack (10.0.0.2) listening on
-- PORT with a SYN queue of `backlog`, already filled by spoofed SYNs.
local function full_listener(seed, backlog, config)
  local p = pkt.peer { seed = seed, config = config }
  local l = p:listen(PORT, backlog)
  flood(p.sim, p.raw, p.addr, backlog, seed, function() C.tl_sim_run(p.sim, p:now() + 1000) end)
  return p, l
end

local function stat(p, name) return p:stats()[name] end

-- The peer's side of a handshake with options syn; returns the SYN-ACK.
local function syn(p, t)
  local s = { sport = 40000, dport = PORT, seq = 1000, flags = "S", win = 65535 }
  for k, v in pairs(t or {}) do s[k] = v end
  p:send(s)
  return p:expect(10000), s
end

describe("SYN cookies (RFC 4987 3.6)", function()
  it("lets a client stack connect at once after a flood of 100,000 spoofed SYNs", function()
    local log = {}
    local sim = require("tcplua.sim").new { seed = 7, latency_ms = 1, report = function(m) log[#log + 1] = m end }
    local a = sim:stack { addr = "10.0.0.1" }
    local b = sim:stack { addr = "10.0.0.2" }
    local raw = sim:raw("10.0.0.3")
    local echoed
    assert(a.listen(PORT, function(conn)
      local all = assert(conn:receive("*a"))
      conn:send(all)
    end))
    flood(sim.sim, raw, "10.0.0.1", 100000, 7, function() sim:run_until(function() return false end, 1) end)
    local sa = a.stats()
    -- The SYN queue (backlog 128) took the first ones; the rest got cookies:
    -- no TCB, no drop.
    assert.equal(128, sa.tcp_passive_open)
    assert.equal(100000 - 128, sa.tcp_syncookies_sent)
    assert.equal(0, sa.drop_tcp_backlog)
    local t0 = sim:now()
    local connected_at, info
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", PORT))
      connected_at = sim:now()
      info = c:info()
      local data = string.rep("0123456789abcdef", 16384) -- 256 KB: the windows must scale
      assert(c:send(data))
      c:shutdown("send")
      echoed = c:receive("*a")
      c:close()
    end)
    assert.is_true(sim:run_until(function() return echoed ~= nil end, 60000))
    -- One round trip (2 ms on this link), no timer: no SYN was retransmitted.
    assert.is_true(connected_at - t0 <= 3, "connected after " .. (connected_at - t0) .. " ms")
    assert.equal(0, b.stats().tcp_rto_expired)
    assert.equal(256 * 1024, #echoed)
    assert.equal(1, a.stats().tcp_syncookies_accepted)
    assert.equal(128 + 1, a.stats().tcp_passive_open)
    assert.equal(0, a.stats().tcp_syncookies_rejected)
    assert.equal("ESTABLISHED", info.state)
    assert.same({}, log)
  end)

  it("gives the connection the options the SYN asked for: MSS from the table, window scale, SACK, timestamps",
    function()
      local p, l = full_listener(11, 4)
      local sent = stat(p, "tcp_syncookies_sent")
      local sa, s = syn(p, { mss = 1400, wscale = 7, sackok = true, ts = { 5000, 0 } })
      assert.is_truthy(sa, "no SYN-ACK")
      assert.equal("S.", sa.flags)
      assert.equal(sent + 1, stat(p, "tcp_syncookies_sent"))
      assert.equal(s.seq + 1, sa.ack)
      assert.equal(1460, sa.mss)             -- ours: the link MTU
      assert.is_truthy(sa.wscale)            -- offered back: the SYN had one
      assert.is_true(sa.sackok)
      assert.equal(5000, sa.ts[2])           -- echoes the SYN's TSval
      -- The option bits ride in the TSval's low 6 bits (window scale 7,
      -- SACK-permitted), as Linux's cookie_init_timestamp.
      assert.equal(7 + 16, sa.ts[1] % 64)
      p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = ".", win = 100,
        ts = { 5001, sa.ts[1] } }
      p:collect(1000)
      local c = C.tl_accept(l)
      assert.is_true(c ~= nil, "nothing to accept")
      assert.equal("ESTABLISHED", pkt.state(c))
      assert.equal(1, stat(p, "tcp_syncookies_accepted"))
      local i = pkt.info(c)
      assert.equal(1360 - 12, i.snd_mss)     -- 1400 rounds down to 1360; TS takes 12 (RFC 6691)
      assert.equal(100 * 128, i.snd_wnd)     -- the ACK's window, scaled by the SYN's shift 7
      assert.equal(sa.seq, i.iss)
      assert.equal(s.seq, i.irs)
      -- SACK: data beyond a hole is SACKed; timestamps: every segment
      -- carries TS, and our TSvals go on from the cookie's, never back.
      p:send { sport = s.sport, dport = PORT, seq = s.seq + 1 + 100, ack = sa.seq + 1, flags = "P.", win = 100,
        ts = { 5002, sa.ts[1] }, data = string.rep("x", 100) }
      local ack = p:expect(1000000)
      assert.is_truthy(ack, "no ACK for the out-of-order data")
      assert.same({ { s.seq + 1 + 100, s.seq + 1 + 200 } }, ack.sack)
      assert.is_truthy(ack.ts)
      assert.equal(5001, ack.ts[2])          -- TS.Recent stays: the data is out of order (RFC 7323 4.3)
      assert.is_true(ack.ts[1] >= sa.ts[1] and ack.ts[1] - sa.ts[1] < 1000)
      -- The hole filled: all 200 bytes are readable.
      p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = "P.", win = 100,
        ts = { 5003, ack.ts[1] }, data = string.rep("y", 100) }
      p:collect(300000)
      assert.equal(200, tonumber(C.tl_readable(c)))
    end)

  it("without timestamps, takes the MSS and goes without window scaling and SACK, as Linux", function()
    local p, l = full_listener(12, 4)
    local sa, s = syn(p, { mss = 1452, wscale = 7, sackok = true })
    assert.equal("S.", sa.flags)
    assert.is_nil(sa.wscale)
    assert.is_nil(sa.sackok)
    assert.is_nil(sa.ts)
    p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = ".", win = 1000 }
    p:collect(1000)
    local c = C.tl_accept(l)
    assert.is_true(c ~= nil, "nothing to accept")
    local i = pkt.info(c)
    assert.equal(1440, i.snd_mss)            -- 1452 rounds down to 1440
    assert.equal(1000, i.snd_wnd)            -- unscaled
    -- No MSS option at all: RFC 9293 3.7.1's 536.
    local sa2, s2 = syn(p, { sport = 40001 })
    p:send { sport = s2.sport, dport = PORT, seq = s2.seq + 1, ack = sa2.seq + 1, flags = ".", win = 1000 }
    p:collect(1000)
    local c2 = C.tl_accept(l)
    assert.is_true(c2 ~= nil, "nothing to accept")
    assert.equal(536, pkt.info(c2).snd_mss)
    assert.equal(2, stat(p, "tcp_syncookies_accepted"))
  end)

  it("takes data and FIN riding on the cookie ACK", function()
    local p, l = full_listener(13, 4)
    local sa, s = syn(p, { mss = 1460, ts = { 1, 0 } })
    p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = "FP.", win = 1000,
      ts = { 2, sa.ts[1] }, data = "hello" }
    local ack = p:expect(1000000)
    assert.is_truthy(ack, "no ACK")
    assert.equal(s.seq + 1 + 5 + 1, ack.ack)
    local c = C.tl_accept(l)
    assert.is_true(c ~= nil, "nothing to accept")
    assert.equal("CLOSE-WAIT", pkt.state(c))
    assert.equal(5, tonumber(C.tl_readable(c)))
  end)

  it("keeps a cookie connection whose ACK found the accept queue full in SYN-RECEIVED until there is room",
    function()
      local p = pkt.peer { seed = 21 }
      local l = p:listen(PORT, 1)
      -- A's SYN fills the SYN queue, so B gets a cookie; A's ACK then
      -- fills the accept queue before B's ACK comes.
      local sa1 = syn(p, { sport = 43000, seq = 1, mss = 1460 })
      local sa, s = syn(p, { sport = 43001, mss = 1460, ts = { 1, 0 } })
      assert.equal(1, stat(p, "tcp_syncookies_sent"))
      p:send { sport = 43000, dport = PORT, seq = 2, ack = sa1.seq + 1, flags = ".", win = 1000 }
      assert.is_nil(p:expect(1000))
      p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = ".", win = 1000,
        ts = { 2, sa.ts[1] } }
      assert.is_nil(p:expect(1000))
      assert.equal(1, stat(p, "tcp_syncookies_accepted"))
      assert.equal(1, stat(p, "drop_tcp_backlog"))
      assert.is_true(C.tl_accept(l) ~= nil)   -- the first connection: now there is room
      assert.is_true(C.tl_accept(l) == nil)
      -- The waiting child resends its SYN-ACK (RTO, 1 s): the same cookie ISN.
      local again = p:expect(2000000)
      assert.is_truthy(again, "no SYN-ACK retransmission")
      assert.equal("S.", again.flags)
      assert.equal(sa.seq, again.seq)
      p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = ".", win = 1000,
        ts = { 3, again.ts[1] } }
      p:collect(1000)
      local c = C.tl_accept(l)
      assert.is_true(c ~= nil, "nothing to accept")
      assert.equal("ESTABLISHED", pkt.state(c))
      assert.equal(1, stat(p, "tcp_syncookies_accepted"))
    end)

  it("answers a forged ACK with <SEQ=SEG.ACK><CTL=RST> and counts it (RFC 9293 3.10.7.2)", function()
    local p, l = full_listener(14, 4)
    local sa, s = syn(p, { mss = 1460 })
    assert.equal("S.", sa.flags)
    local rejected = stat(p, "tcp_syncookies_rejected")
    -- A guessed cookie, and the real one from another port or another ISN.
    local forged = {
      { sport = s.sport, seq = s.seq + 1, ack = (sa.seq + 1 + 12345) % 4294967296 },
      { sport = s.sport + 1, seq = s.seq + 1, ack = sa.seq + 1 },
      { sport = s.sport, seq = s.seq + 2, ack = sa.seq + 1 },
    }
    for n, f in ipairs(forged) do
      p:send { sport = f.sport, dport = PORT, seq = f.seq, ack = f.ack, flags = ".", win = 1000 }
      local r = p:expect(10000)
      assert.is_truthy(r, "no RST for forged ACK " .. n)
      assert.equal("R", r.flags)
      assert.equal(f.ack, r.seq)
      assert.equal(rejected + n, stat(p, "tcp_syncookies_rejected"))
    end
    assert.is_true(C.tl_accept(l) == nil)
    assert.equal(0, stat(p, "tcp_syncookies_accepted"))
    -- The real one still works.
    p:send { sport = s.sport, dport = PORT, seq = s.seq + 1, ack = sa.seq + 1, flags = ".", win = 1000 }
    p:collect(1000)
    assert.is_true(C.tl_accept(l) ~= nil)
  end)

  it("rejects a cookie replayed after its validity period (64 to 128 s)", function()
    local p, l = full_listener(15, 4)
    local a, sa_ = syn(p, { sport = 41000, mss = 1460 })
    local b, sb = syn(p, { sport = 41001, mss = 1460 })
    local t0 = p:now()
    -- Keep the SYN queue full (its half-open entries expire after the
    -- SYN-ACK retries) so that the listener goes on sending cookies.
    local k = 0
    local function run_to(t)
      while p:now() < t do
        k = k + 1
        flood(p.sim, p.raw, p.addr, 8, 100 + k, function() end)
        C.tl_sim_run(p.sim, math.min(t, p:now() + 20000000))
        p:drain_events()
      end
    end
    run_to(t0 + 60 * 1000000)
    -- Within its period or the next: still good.
    p:send { sport = sa_.sport, dport = PORT, seq = sa_.seq + 1, ack = a.seq + 1, flags = ".", win = 1000 }
    C.tl_sim_run(p.sim, p:now() + 1000)
    assert.is_true(C.tl_accept(l) ~= nil, "a 60 s old cookie was refused")
    run_to(t0 + 200 * 1000000)
    local rejected = stat(p, "tcp_syncookies_rejected")
    while tonumber(C.tl_sim_recv_raw(p.sim, p.raw, p.buf, 65536)) > 0 do end
    p:send { sport = sb.sport, dport = PORT, seq = sb.seq + 1, ack = b.seq + 1, flags = ".", win = 1000 }
    local r = p:expect(10000)
    assert.is_truthy(r, "no answer to the replayed cookie")
    assert.equal("R", r.flags)
    assert.equal(b.seq + 1, r.seq)
    assert.equal(rejected + 1, stat(p, "tcp_syncookies_rejected"))
    assert.is_true(C.tl_accept(l) == nil)
    assert.equal(1, stat(p, "tcp_syncookies_accepted"))
  end)

  it("checks no ACK as a cookie while the listener has sent none lately", function()
    local p = pkt.peer { seed = 16 }
    p:listen(PORT, 4)
    p:send { sport = 42000, dport = PORT, seq = 1, ack = 12345, flags = ".", win = 1000 }
    local r = p:expect(10000)
    assert.equal("R", r.flags)
    assert.equal(1, stat(p, "drop_tcp_listen_ack"))
    assert.equal(0, stat(p, "tcp_syncookies_rejected"))
  end)

  local function cookies_off(p, l)
    local sa = syn(p, { mss = 1460 })
    assert.is_nil(sa, "a SYN was answered with the SYN queue full")
    assert.equal(0, stat(p, "tcp_syncookies_sent"))
    assert.equal(1, stat(p, "drop_tcp_backlog"))
    -- An ACK is just an ACK to a listener.
    p:send { sport = 40000, dport = PORT, seq = 1001, ack = 777, flags = ".", win = 1000 }
    local r = p:expect(10000)
    assert.equal("R", r.flags)
    assert.equal(0, stat(p, "tcp_syncookies_rejected"))
    assert.is_true(C.tl_accept(l) == nil)
  end

  it("with tcp_no_syncookies, drops SYNs while the SYN queue is full, as before", function()
    local p, l = full_listener(17, 4, function(cfg) cfg.tcp_no_syncookies = 1 end)
    assert.equal(0, tonumber(C.tl_getopt(l, C.TL_OPT_SYNCOOKIES)))
    cookies_off(p, l)
  end)

  it("with TL_OPT_SYNCOOKIES 0 on the listener, drops SYNs while the SYN queue is full", function()
    local p = pkt.peer { seed = 18 }
    local l = p:listen(PORT, 4)
    assert.equal(1, tonumber(C.tl_getopt(l, C.TL_OPT_SYNCOOKIES)))
    assert.equal(0, C.tl_setopt(l, C.TL_OPT_SYNCOOKIES, 0))
    assert.equal(0, tonumber(C.tl_getopt(l, C.TL_OPT_SYNCOOKIES)))
    flood(p.sim, p.raw, p.addr, 4, 18, function() C.tl_sim_run(p.sim, p:now() + 1000) end)
    cookies_off(p, l)
  end)

  it("is a listener option in Lua: listen{ syncookies = false }, server:getoption, config().syncookies", function()
    local sim = require("tcplua.sim").new { seed = 19 }
    local a = sim:stack { addr = "10.0.0.1" }
    local b = sim:stack { addr = "10.0.0.2", tcp_no_syncookies = 1 }
    assert.is_true(a.config().syncookies)
    assert.is_false(b.config().syncookies)
    local on = assert(a.listen(81, function() end))
    local off = assert(a.listen(82, function() end, { syncookies = false }))
    assert.is_true(on:getoption("syncookies"))
    assert.is_false(off:getoption("syncookies"))
    assert.is_true(off:setoption("syncookies", true))
    assert.is_true(off:getoption("syncookies"))
    assert.is_false(assert(b.listen(83, function() end)):getoption("syncookies"))
    -- Not an option of a connection.
    local res
    a.spawn(function()
      local c = assert(a.connect("10.0.0.1", 81))
      res = { c:setoption("syncookies", true) }
      res[3] = select(2, c:getoption("syncookies"))
    end)
    assert.is_true(sim:run_until(function() return res ~= nil end, 5000))
    assert.same({ nil, "invalid", "invalid" }, res)
  end)

  it("still shows every SYN to the Lua accept filter", function()
    local sim = require("tcplua.sim").new { seed = 20, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1", backlog = 8 }
    local b = sim:stack { addr = "10.0.0.2" }
    local raw = sim:raw("10.0.0.3")
    local seen = 0
    a.accept_filter(function() seen = seen + 1 end)
    local got
    assert(a.listen(PORT, function(conn) got = conn:receive(2) end))
    flood(sim.sim, raw, "10.0.0.1", 1000, 20, function() sim:run_until(function() return false end, 1) end)
    assert.equal(1000, seen)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", PORT))
      c:send("hi")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 10000))
    assert.equal("hi", got)
    assert.equal(1001, seen)
    assert.equal(1, a.stats().tcp_syncookies_accepted)
  end)
end)
