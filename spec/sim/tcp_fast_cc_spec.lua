-- Congestion control: CUBIC (RFC 9438) as the default, Reno/NewReno by
-- choice, appropriate byte counting (RFC 3465). A scripted bulk receiver
-- (spec/helpers/bulkpeer.lua) ACKs like a real one; the window is read
-- from tl_sock_info once per round trip, in virtual time.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local bulkpeer = require "helpers.bulkpeer"

local CUBIC_C, BETA = 0.4, 0.7

local function name(s) return ffi.string(C.tl_tcp_cc_name(s)) end

-- Slow start until cwnd reaches `segs` segments, lose the next new
-- segment, then sample the window once per RTT for `rounds` rounds. The
-- loss is detected one round later, after the window doubled once more;
-- returns the samples from detection on (t in seconds from detection),
-- and the window just before it.
local function loss_episode(opts)
  local b = bulkpeer.new { seed = opts.seed, latency_us = opts.lat, sack = true, cc = opts.cc, recovery = "dupack" }
  local M, rtt = b.mss, 2 * opts.lat
  local dropped
  for _ = 1, 40 do
    local i = b:info()
    if i.cwnd >= opts.segs * M then
      b:drop(i.snd_nxt - b.base)
      dropped = true
      break
    end
    b:run(rtt)
  end
  assert(dropped, "slow start never reached " .. opts.segs .. " segments")
  local before, t0
  for _ = 1, 5 do
    local w = b:info().cwnd
    b:run(rtt)
    if b:info().fast_retrans > 0 then before, t0 = w, b:now(); break end
  end
  assert(before, "the loss was not detected")
  local samples = { { t = 0, cwnd = b:info().cwnd / M, ssthresh = b:info().ssthresh / M } }
  for r = 1, opts.rounds do
    b:run(rtt)
    local i = b:info()
    samples[r + 1] = { t = (b:now() - t0) / 1e6, cwnd = i.cwnd / M, ssthresh = i.ssthresh / M }
  end
  return b, samples, before / M
end

-- The sample closest to time t (seconds after the loss).
local function at(samples, t)
  local best
  for _, s in ipairs(samples) do
    if not best or math.abs(s.t - t) < math.abs(best.t - t) then best = s end
  end
  return best
end

describe("congestion control selection", function()
  it("uses CUBIC by default and switches per socket with TL_OPT_CONGESTION", function()
    local b = bulkpeer.new { seed = 1, latency_us = 1000 }
    assert.are.equal("cubic", name(b.s))
    assert.are.equal(2, tonumber(C.tl_getopt(b.s, C.TL_OPT_CONGESTION)))
    for v, n in pairs({ [0] = "reno", [1] = "newreno", [2] = "cubic", [3] = "bbr" }) do
      assert.are.equal(0, C.tl_setopt(b.s, C.TL_OPT_CONGESTION, v))
      assert.are.equal(n, name(b.s))
      assert.are.equal(v, tonumber(C.tl_getopt(b.s, C.TL_OPT_CONGESTION)))
    end
    assert.are.equal(C.TL_EINVAL, C.tl_setopt(b.s, C.TL_OPT_CONGESTION, 4))
    -- switching mid-transfer keeps the connection moving
    b:run(20000)
    assert.are.equal(0, C.tl_setopt(b.s, C.TL_OPT_CONGESTION, 1))
    local una = b:info().snd_una
    b:run(20000)
    assert.are_not.equal(una, b:info().snd_una)
  end)

  it("takes the module by name from Lua: conn:setoption('congestion', ...)", function()
    local sim = require("tcplua.sim").new { seed = 3, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    local c2 = sim:stack { addr = "10.0.0.2" }
    local seen = {}
    assert(a.listen(7, function(conn)
      seen.default = conn:getoption("congestion")
      seen.ok = conn:setoption("congestion", "newreno")
      seen.now = conn:getoption("congestion")
      seen.bad, seen.err = conn:setoption("congestion", "vegas")
      conn:close()
    end))
    c2.spawn(function()
      local conn = assert(c2.connect("10.0.0.1", 7, { congestion = "reno" }))
      seen.client = conn:getoption("congestion")
      conn:receive("*a")
      conn:close()
    end)
    sim:run(2000)
    assert.are.equal("cubic", seen.default)
    assert.is_true(seen.ok)
    assert.are.equal("newreno", seen.now)
    assert.is_nil(seen.bad)
    assert.matches("cubic", seen.err)
    assert.are.equal("reno", seen.client)
  end)
end)

describe("CUBIC (RFC 9438)", function()
  it("cuts to beta = 0.7 of the window on loss and regrows along the cubic curve back to W_max at K", function()
    -- RTT 100 ms: long enough that the cubic curve, not the Reno-friendly
    -- estimate, drives the window (RFC 9438 4.3 vs 4.4-4.5).
    local b, samples, w_before = loss_episode { seed = 5, lat = 50000, segs = 100, rounds = 110 }
    local i = b:info()
    assert.are.equal(1, i.fast_retrans)
    assert.are.equal(1, tonumber(i.total_retrans), "a single loss costs a single retransmission")
    -- 4.6: ssthresh = 0.7 * flight; the flight at detection is the window
    -- we had (plus the segments limited transmit let out)
    local ssth = samples[1].ssthresh
    local w_max = ssth / BETA
    assert.is_true(w_max >= w_before and w_max <= w_before + 4,
      ("W_max %.1f vs window before the loss %.1f"):format(w_max, w_before))
    -- 4.2 eq. 2: K = cbrt(W_max (1 - beta) / C)
    local K = (w_max * (1 - BETA) / CUBIC_C) ^ (1 / 3)
    local function cubic(t) return CUBIC_C * (t - K) ^ 3 + w_max end
    -- the epoch starts when recovery ends, about one RTT after detection
    local epoch = 0.1
    -- concave: the first half of the way to K covers 7/8 of the gap
    local half = at(samples, epoch + K / 2).cwnd
    assert.is_true(half > ssth + 0.8 * (w_max - ssth), ("cwnd %.1f at K/2 (ssthresh %.1f, W_max %.1f)"):format(half, ssth, w_max))
    -- plateau: at K the window is W_max, within 1 %
    local atk = at(samples, epoch + K).cwnd
    assert.is_true(math.abs(atk - w_max) < 0.01 * w_max, ("cwnd %.1f at K = %.2f s, W_max %.1f"):format(atk, K, w_max))
    -- convex: past K growth accelerates
    local k1, k2, k3 = at(samples, epoch + K + 1).cwnd, at(samples, epoch + K + 2).cwnd, at(samples, epoch + K + 3).cwnd
    assert.is_true(k3 - k2 > k2 - k1 and k2 - k1 > 0, ("convex region: %.1f %.1f %.1f"):format(k1, k2, k3))
    -- and all along the window stays within a few segments of W_cubic,
    -- one RTT ahead (4.4: the target is W_cubic(t + RTT))
    for _, s in ipairs(samples) do
      local t = s.t - epoch
      if t > 0.3 and t < K + 4 then
        local want = math.max(cubic(t + 0.1), ssth)
        assert.is_true(math.abs(s.cwnd - want) < 0.03 * w_max + 2,
          ("t %.2f s: cwnd %.1f, W_cubic(t + RTT) %.1f"):format(t, s.cwnd, want))
      end
    end
  end)

  it("grows at least as fast as Reno would at a short RTT (Reno-friendly region, 4.3)", function()
    local b, samples = loss_episode { seed = 6, lat = 1000, segs = 50, rounds = 200 }
    local ssth = samples[1].ssthresh
    local w_max = ssth / BETA
    local K = (w_max * (1 - BETA) / CUBIC_C) ^ (1 / 3)
    local last = samples[#samples]
    -- 200 RTTs of 2 ms: the cubic curve alone would still be far below
    -- W_max; W_est adds alpha = 3 (1 - beta) / (1 + beta) ~ 0.53 segment
    -- per RTT (every ACK here covers two segments)
    local cubic_only = CUBIC_C * (last.t - K) ^ 3 + w_max
    local alpha = 3 * (1 - BETA) / (1 + BETA)
    assert.is_true(last.cwnd > cubic_only + 20, ("cwnd %.1f vs W_cubic %.1f"):format(last.cwnd, cubic_only))
    assert.is_true(last.cwnd >= ssth + 0.8 * alpha * 198,
      ("cwnd %.1f after 200 RTTs from ssthresh %.1f"):format(last.cwnd, ssth))
    assert.are.equal(1, b:info().fast_retrans)
  end)

  it("keeps a larger window than Reno after the same loss (ssthresh 0.7 vs 0.5)", function()
    local _, cubic = loss_episode { seed = 7, lat = 50000, segs = 100, rounds = 20, cc = 2 }
    local _, reno = loss_episode { seed = 7, lat = 50000, segs = 100, rounds = 20, cc = 0 }
    assert.is_true(math.abs(cubic[1].ssthresh / (reno[1].ssthresh) - 0.7 / 0.5) < 0.05)
    assert.is_true(cubic[20].cwnd > reno[20].cwnd + 20, ("cubic %.1f, reno %.1f"):format(cubic[20].cwnd, reno[20].cwnd))
  end)
end)

describe("appropriate byte counting (RFC 3465)", function()
  for _, cc in ipairs({ 0, 2 }) do
    it("grows slow start by the bytes acked, at most 2 SMSS per ACK (" .. (cc == 0 and "reno" or "cubic") .. ")", function()
      local b = bulkpeer.new { seed = 8, latency_us = 10000, sack = true, cc = cc, total = 1460 * 200 }
      local M, p = b.mss, b.p
      b:fill()
      local segs = p:collect(30000)
      assert.are.equal(10, #segs) -- RFC 6928 initial window
      local iw = b:info().cwnd
      local function ack(n)
        b.rcv_nxt = n * M
        b:ack()
        p:collect(25000)
      end
      ack(4)   -- one stretch ACK for 4 segments: + 2 SMSS (L = 2), not + 4 or + 1
      assert.are.equal(iw + 2 * M, b:info().cwnd)
      ack(5)   -- one segment: + 1 SMSS
      assert.are.equal(iw + 3 * M, b:info().cwnd)
      ack(5)   -- a duplicate adds nothing
      assert.are.equal(iw + 3 * M, b:info().cwnd)
    end)
  end

  it("limits slow start after a retransmission timeout to 1 SMSS per ACK (RFC 3465 2.3)", function()
    -- dupack: with RACK-TLP the silence draws a loss probe before the RTO
    local b = bulkpeer.new { seed = 9, latency_us = 10000, sack = true, total = 1460 * 40, recovery = "dupack" }
    local M, p = b.mss, b.p
    b:fill()
    assert.are.equal(10, #p:collect(30000))
    -- no ACK at all: the RTO fires and resends the first segment
    local r = assert(p:expect(3e6), "no retransmission")
    assert.are.equal(b.base, r.seq)
    local i = b:info()
    assert.are.equal(M, i.cwnd)
    b.rcv_nxt = 10 * M -- the first flight had arrived after all
    b:ack()
    p:collect(25000)
    assert.are.equal(2 * M, b:info().cwnd)
  end)
end)
