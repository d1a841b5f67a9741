-- BBR v1 congestion control (draft-cardwell-iccrg-bbr-congestion-control-00,
-- core/tcp/cc/tcp_cc_bbr.c) over the sim link with a fixed bottleneck rate
-- (tl_impair_config rate_bps and queue_max) and seeded random loss. The
-- model is read from tl_tcp_bbr_info on every step of virtual time.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local tcpsim = require "helpers.tcpsim"

local STARTUP, DRAIN, PROBE_BW, PROBE_RTT = 0, 1, 2, 3
local CUBIC, BBR = 2, 3

local function bbr(s)
  local i = ffi.new("tl_bbr_info")
  assert(C.tl_tcp_bbr_info(s, i) == 0, "not a BBR socket")
  return i
end

-- A pair whose a -> b link has the rate, one-way latency, loss and queue
-- given; a connects to b and switches to congestion control `cc`.
local function path(o)
  local w = tcpsim.pair { seed = o.seed or 1, latency_us = o.lat or 5000,
    impair_a = { rate_bps = o.rate, queue_max = o.queue or 400, loss = o.loss or 0 } }
  local c, s = w:establish(80)
  assert(C.tl_setopt(c, C.TL_OPT_CONGESTION, o.cc or BBR) == 0)
  return w, c, s
end

-- Keep c's send buffer full for `us` of virtual time while s reads
-- everything; step(w) runs after every step. Returns the bytes s read,
-- which must be the bytes sent, in order (a later call goes on with the
-- same stream).
local data = tcpsim.bytes(1048576, 9)
local ptr = ffi.cast("const uint8_t *", data)
local rbuf = ffi.new("uint8_t[65536]")
local function saturate(w, c, s, us, step)
  w.sat = w.sat or { off = 0, got = 0 }
  local off, got, t0 = w.sat.off, w.sat.got, w:now()
  w:run_until(function()
    while true do
      local n = tonumber(C.tl_send(c, ptr + off, #data - off, w:now()))
      if n <= 0 then break end
      off = (off + n) % #data
    end
    while true do
      local n = tonumber(C.tl_recv(s, rbuf, 65536, w:now()))
      if n <= 0 then break end
      for k = 0, n - 1, 997 do -- byte-exact, sampled
        assert(rbuf[k] == data:byte((got + k) % #data + 1), "byte " .. (got + k) .. " differs")
      end
      got = got + n
    end
    if step then step(w) end
    return w:now() - t0 >= us
  end, us + 1e6)
  w.sat.off, w.sat.got = off, got
  return got
end

describe("BBR selection", function()
  it("is TL_OPT_CONGESTION 3, 'bbr' from Lua, and the tcp_cc option makes it the default", function()
    local w, c = path { rate = 10e6 }
    assert.are.equal("bbr", ffi.string(C.tl_tcp_cc_name(c)))
    assert.are.equal(BBR, tonumber(C.tl_getopt(c, C.TL_OPT_CONGESTION)))
    local w2 = tcpsim.pair { seed = 2, config = function(cfg) cfg.tcp_cc = 3 end }
    local c2, s2 = w2:establish(80)
    assert.are.equal("bbr", ffi.string(C.tl_tcp_cc_name(c2)))
    assert.are.equal("bbr", ffi.string(C.tl_tcp_cc_name(s2)))
    local sim = require("tcplua.sim").new { seed = 3, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    local b = sim:stack { addr = "10.0.0.2" }
    local seen = {}
    assert(a.listen(7, function(conn)
      seen.default = conn:getoption("congestion")
      seen.ok = conn:setoption("congestion", "bbr")
      seen.now = conn:getoption("congestion")
      conn:close()
    end))
    b.spawn(function() assert(b.connect("10.0.0.1", 7)):receive("*a") end)
    sim:run(2000)
    assert.are.same({ default = "cubic", ok = true, now = "bbr" }, seen)
    assert.is_true(w:now() > 0)
  end)
end)

describe("BBR (draft-cardwell-iccrg-bbr-congestion-control-00)", function()
  it("leaves STARTUP through DRAIN for PROBE_BW on a fixed-rate path, with bw near the link rate", function()
    local rate = 20e6
    local w, c, s = path { rate = rate, lat = 5000 }
    local modes = {}
    saturate(w, c, s, 1.5e6, function()
      local m = bbr(c).mode
      if modes[#modes] ~= m then modes[#modes + 1] = m end
    end)
    assert.are.same({ STARTUP, DRAIN, PROBE_BW }, modes)
    local i = bbr(c)
    assert.are.equal(1, i.full_bw_reached)
    -- the payload rate the link carries, a little under its raw rate
    assert.is_true(tonumber(i.bw_bps) > 0.9 * rate and tonumber(i.bw_bps) <= rate, tostring(i.bw_bps))
    -- min_rtt is the path's 10 ms plus a packet's serialisation
    assert.is_true(i.min_rtt_us >= 10000 and i.min_rtt_us < 12000, tostring(i.min_rtt_us))
  end)

  it("keeps several times CUBIC's goodput under 3 % random loss on the same seeded path", function()
    local data = tcpsim.bytes(3e6, 4)
    local function run(cc)
      return tcpsim.bulk(data, { seed = 11, latency_us = 5000, cc = cc,
        impair_a = { loss = 0.03, rate_bps = 100e6, queue_max = 400 } })
    end
    local t_cubic, _, i_cubic = run(CUBIC)
    local t_bbr, st, i_bbr = run(BBR)
    -- both lost segments and repaired them (bulk checks the bytes)
    assert.is_true(tonumber(i_cubic.total_retrans) > 20 and tonumber(i_bbr.total_retrans) > 20)
    assert.is_true(t_cubic > 4 * t_bbr, ("CUBIC %.2f s, BBR %.2f s"):format(t_cubic, t_bbr))
    -- and BBR gets most of the link, repairing losses without timeouts
    assert.is_true(#data * 8 / t_bbr > 0.6 * 100e6, ("BBR %.1f Mbit/s"):format(#data * 8 / t_bbr / 1e6))
    assert.are.equal(0, tonumber(st.tcp_rto_expired))
  end)

  it("does not collapse its window under random loss: it stays near 2 x BDP where CUBIC's shrinks", function()
    -- 1 % loss on a 50 Mbit/s, 20 ms path: a loss in nearly every round.
    -- The window, sampled every millisecond after the first second.
    local function windows(cc)
      local w, c, s = path { rate = 50e6, lat = 10000, loss = 0.01, seed = 5, cc = cc }
      local t, cw = w:now() + 1e6, {}
      saturate(w, c, s, 4e6, function()
        if w:now() >= t then
          cw[#cw + 1] = w:info(c).cwnd
          t = t + 1000
        end
      end)
      table.sort(cw)
      return cw, w:info(c), cc == BBR and bbr(c) or nil
    end
    local cb, ib, b = windows(BBR)
    local cc = windows(CUBIC)
    assert.is_true(ib.fast_retrans > 30, "recoveries: " .. ib.fast_retrans)
    local median = cb[math.floor(#cb / 2)]
    -- cwnd_gain x BDP (plus the quantum) is the target; during a
    -- recovery's first round packet conservation holds the flight, which
    -- is still about one BDP
    assert.is_true(median >= 1.5 * b.bdp and median <= 2.5 * b.bdp, ("median %d, BDP %d"):format(median, b.bdp))
    assert.is_true(cb[1] >= 0.8 * b.bdp, ("lowest %d, BDP %d"):format(cb[1], b.bdp))
    assert.is_true(median > 5 * cc[math.floor(#cc / 2)], ("BBR %d, CUBIC %d"):format(median, cc[math.floor(#cc / 2)]))
  end)

  it("enters PROBE_RTT after 10 s without a lower RTT, with cwnd at 4 segments, and leaves it", function()
    local w, c, s = path { rate = 2e6, lat = 10000, seed = 6 }
    local entered, cwnd_in, left
    local mss = w:info(c).snd_mss
    saturate(w, c, s, 12.5e6, function()
      local b = bbr(c)
      if b.mode == PROBE_RTT then
        entered = entered or w:now()
        cwnd_in = math.max(cwnd_in or 0, w:info(c).cwnd)
      elseif entered and not left then
        left = w:now()
      end
    end)
    assert.is_truthy(entered, "never entered PROBE_RTT")
    assert.is_true(entered > 10e6, "entered at " .. entered)
    assert.are.equal(4 * mss, cwnd_in)
    assert.is_truthy(left, "never left PROBE_RTT")
    -- at least ProbeRTTDuration (200 ms) and at most a few round trips more
    assert.is_true(left - entered >= 200000 and left - entered < 400000, tostring(left - entered))
  end)

  it("does not lower its bandwidth estimate on application-limited samples", function()
    local w, c, s = path { rate = 20e6, lat = 5000, seed = 7 }
    saturate(w, c, s, 1e6)
    local before = tonumber(bbr(c).bw_bps)
    assert.is_true(before > 0.9 * 20e6)
    -- 2 s (over a hundred round trips) of 1000 bytes every 20 ms: 0.4 Mbit/s
    local chunk, got = tcpsim.bytes(1000, 3), 0
    local rounds0 = bbr(c).round
    for _ = 1, 100 do
      w:send(c, chunk)
      w:advance(20000)
      got = got + #w:read(s)
    end
    local i = bbr(c)
    -- (delayed ACKs join some of them into one round)
    assert.is_true(i.round - rounds0 > 30, "rounds " .. (i.round - rounds0))
    assert.is_true(got >= 99000)
    assert.are.equal(before, tonumber(i.bw_bps))
  end)

  it("restarting after an idle period longer than 10 s does not take the old min_rtt for PROBE_RTT", function()
    local w, c, s = path { rate = 20e6, lat = 5000, seed = 9 }
    saturate(w, c, s, 1e6)
    local before = bbr(c)
    assert.are.equal(PROBE_BW, before.mode)
    w:advance(11e6) -- nothing to send: min_rtt's 10 s window runs out
    local modes, chunk = {}, tcpsim.bytes(20000, 5)
    for _ = 1, 20 do -- a request's worth every 50 ms: app-limited, the RTT as before
      w:send(c, chunk)
      w:run_until(function()
        modes[bbr(c).mode] = true
        return #w:read(s) == 0 and w:info(c).unacked == 0
      end, 50000)
    end
    assert.is_nil(modes[PROBE_RTT], "entered PROBE_RTT on the restart")
    -- fresh samples renewed min_rtt: the same path, 10 ms plus serialisation
    local m = bbr(c).min_rtt_us
    assert.is_true(m >= 10000 and m <= before.min_rtt_us, tostring(m))
    assert.are.equal(tonumber(before.bw_bps), tonumber(bbr(c).bw_bps))
  end)

  it("after a timeout regrows to the window it had, and delivers every byte", function()
    local w, c, s = path { rate = 20e6, lat = 5000, seed = 8 }
    local data_ok = saturate(w, c, s, 1e6)
    assert.is_true(data_ok > 0)
    local before = w:info(c).cwnd
    -- the path goes dark for half a second: the RTO fires (backing off)
    local low, t = math.huge, w:now() + 500000
    w:impair(w.ep_a, { rate_bps = 20e6, queue_max = 400, loss = 1 })
    w:run_until(function()
      low = math.min(low, w:info(c).cwnd)
      return w:now() >= t
    end, 600000)
    w:impair(w.ep_a, { rate_bps = 20e6, queue_max = 400, loss = 0 })
    assert.is_true(tonumber(core.stats(w.a).tcp_rto_expired) >= 1)
    assert.are.equal(w:info(c).snd_mss, low) -- the loss window: one segment
    local una = w:info(c).snd_una
    w:run_until(function() return w:info(c).snd_una ~= una end, 2e6)
    local rto = tonumber(core.stats(w.a).tcp_rto_expired)
    saturate(w, c, s, 1e6)
    assert.are.equal(rto, tonumber(core.stats(w.a).tcp_rto_expired)) -- once the path is back, no more
    assert.is_true(w:info(c).cwnd >= 0.9 * before, ("cwnd %d, before %d"):format(w:info(c).cwnd, before))
    assert.are.equal(PROBE_BW, bbr(c).mode)
  end)

  it("works without SACK: the transmit log is kept for the rate samples alone", function()
    local data = tcpsim.bytes(2e6, 6)
    local t_bbr, _, i = tcpsim.bulk(data, { seed = 12, latency_us = 5000, cc = BBR, sack = false,
      impair_a = { loss = 0.01, rate_bps = 50e6, queue_max = 400 } })
    assert.is_true(i.fast_retrans > 0)
    assert.is_true(#data * 8 / t_bbr > 0.3 * 50e6, ("%.1f Mbit/s"):format(#data * 8 / t_bbr / 1e6))
  end)
end)
