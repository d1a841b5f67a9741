-- The congestion window across idle and application-limited periods:
-- RFC 5681 4.1 restart window after an idle RTO (RFC 2861 3 for ssthresh),
-- and CUBIC's clock stopped while the application had nothing to send
-- (RFC 9438 5.8).
local core = require "tcplua.core"
local C = core.C
local tcpsim = require "helpers.tcpsim"

local LAT = 10000 -- 20 ms RTT
local chunk = tcpsim.bytes(65536, 3)

-- Send `bytes` from c and read them at s until everything is acknowledged.
local function bulk(w, c, s, bytes)
  local sent = 0
  w:run_until(function()
    while sent < bytes do
      local n = tonumber(C.tl_send(c, chunk, math.min(#chunk, bytes - sent), w:now()))
      if n <= 0 then break end
      sent = sent + n
    end
    w:read(s)
    return sent == bytes and w:info(c).unacked == 0
  end, 60e6)
  assert.are.equal(bytes, sent)
end

describe("congestion window after idle (RFC 5681 4.1, RFC 9438 5.8)", function()
  it("restarts from the initial window after an idle period longer than the RTO", function()
    local w = tcpsim.pair { seed = 8, latency_us = LAT }
    local c, s = w:establish(80)
    bulk(w, c, s, 2e6)
    local before = w:info(c)
    local iw = math.min(10 * before.snd_mss, math.max(2 * before.snd_mss, 14600)) -- RFC 6928
    assert.is_true(before.cwnd > 4 * iw, "cwnd " .. before.cwnd .. " did not grow")
    w:advance(before.rto_us + 100000)
    assert.are.equal(before.cwnd, w:info(c).cwnd) -- nothing happens until data is sent
    C.tl_send(c, chunk, #chunk, w:now())
    local after = w:info(c)
    assert.are.equal(iw, after.cwnd)
    assert.is_true(after.unacked <= iw, "burst of " .. after.unacked .. " bytes after idle")
    assert.is_true(after.ssthresh >= math.floor(before.cwnd / 4) * 3, "ssthresh " .. after.ssthresh)
    assert.are.equal(1, core.stats(w.a).tcp_cwnd_restart)
    -- slow start climbs back: the window is large again within a few RTTs
    bulk(w, c, s, 1e6)
    assert.is_true(w:info(c).cwnd > 4 * iw)
  end)

  it("keeps the window after a pause shorter than the RTO", function()
    local w = tcpsim.pair { seed = 9, latency_us = LAT }
    local c, s = w:establish(80)
    bulk(w, c, s, 2e6)
    local before = w:info(c)
    w:advance(math.floor(before.rto_us / 2))
    C.tl_send(c, chunk, #chunk, w:now())
    assert.are.equal(before.cwnd, w:info(c).cwnd)
    assert.is_true(w:info(c).unacked > 14600, "the pause cost the window")
    assert.are.equal(0, core.stats(w.a).tcp_cwnd_restart)
  end)

  it("does not run CUBIC's curve while the application sends less than the window allows", function()
    -- one loss puts CUBIC in congestion avoidance with a W_max to climb back to
    -- (buffers large enough that only cwnd limits the bulk phases)
    local w = tcpsim.pair { seed = 10, latency_us = LAT, config = function(cfg)
      cfg.tcp_sndbuf, cfg.tcp_rcvbuf = 4194304, 4194304
    end }
    local c, s = w:establish(80)
    w:impair(w.ep_a, { loss = 0.002 })
    bulk(w, c, s, 4e6)
    w:impair(w.ep_a, {})
    bulk(w, c, s, 1e6)
    local i = w:info(c)
    assert.is_true(i.ssthresh < 0xffffffff, "no loss: still in slow start")
    assert.is_true(i.cwnd >= i.ssthresh, "not in congestion avoidance")
    -- 10 s application-limited: two segments (ACKed at once) every 50 ms,
    -- far below the window
    local stop = w:now() + 10e6
    while w:now() < stop do
      C.tl_send(c, chunk, 2896, w:now())
      w:advance(50000)
      w:read(s)
    end
    local cwnd0 = w:info(c).cwnd
    assert.are.equal(0, core.stats(w.a).tcp_cwnd_restart)
    -- the stopped clock did not run backwards either: each pause is taken
    -- off the curve once, so its time stays between 0 and the time the
    -- sender was window-limited (about the first bulk phase)
    local t = tonumber(C.tl_tcp_cubic_elapsed_us(c, w:now()))
    assert.is_true(t >= 0 and t < 10e6, "CUBIC's t after 10 s application-limited: " .. t .. " us")
    -- back to bulk for 5 RTTs: the curve continues from where it was. Had
    -- it counted the 10 s, W_cubic(t) would be far above the window and
    -- cwnd would grow by up to half of itself per RTT (4.4-4.5 clamp).
    local until_t = w:now() + 5 * 2 * LAT
    w:run_until(function()
      for _ = 1, 64 do -- keep the send buffer full
        if C.tl_send(c, chunk, #chunk, w:now()) <= 0 then break end
      end
      w:read(s)
      return w:now() >= until_t
    end, 1e6)
    local cwnd1 = w:info(c).cwnd
    assert.is_true(cwnd1 < cwnd0 * 1.2, ("cwnd %d -> %d in 5 RTTs after an app-limited period"):format(cwnd0, cwnd1))
  end)
end)
