-- RFC 7323 4 (RTTM): every ACK of new data gives an RTT sample from the
-- timestamp it echoes, also during loss recovery, where Karn's rule (RFC 6298
-- 3) forbids the timed sample; RFC 7323 Appendix G scales the gains.
local core = require "tcplua.core"
local tcpsim = require "helpers.tcpsim"
local C = core.C

describe("RTT measurement from timestamps (RFC 7323 4)", function()
  it("samples the RTT from TSecr while recovering from losses, and the estimate stays right", function()
    local total = 0
    for seed = 1, 5 do
      -- 20 ms each way: 40 ms RTT, well above the TS clock's 1 ms tick.
      local w = tcpsim.pair { seed = seed, latency_us = 20000, impair_a = { loss = 0.05 } }
      local c, s = w:establish(80)
      assert.is_true(w:info(c).cwnd > 0)
      local data = tcpsim.bytes(400000, seed)
      local got, fin = w:stream(c, s, data, 600e6)
      assert.are.equal(#data, #got, "seed " .. seed)
      assert.is_true(got == data, "seed " .. seed .. ": bytes differ")
      assert.is_true(fin, "seed " .. seed)
      local n = core.stats(w.a).tcp_ts_rtt_samples
      total = total + n
      if n > 0 then
        local srtt = w:info(c).srtt_us
        assert.is_true(srtt >= 35000 and srtt <= 80000,
          "seed " .. seed .. ": srtt " .. srtt .. " us for a 40 ms path")
      end
    end
    -- 5 % loss over five 400 KB transfers always needs recovery somewhere.
    assert.is_true(total > 0, "no RTT sample was taken from a timestamp")
  end)

  it("samples every ACK of new data on a clean path, and the estimate matches the path", function()
    local w = tcpsim.pair { seed = 3, latency_us = 20000 }
    local c, s = w:establish(80)
    local data = tcpsim.bytes(200000, 3)
    local got = w:stream(c, s, data, 600e6)
    assert.are.equal(#data, #got)
    local i = w:info(c)
    -- the receiver ACKs at least every second full segment (RFC 5681 4.2)
    local n = core.stats(w.a).tcp_ts_rtt_samples
    assert.is_true(n >= tonumber(i.data_segs_out) / 3, n .. " samples for " .. tonumber(i.data_segs_out) .. " segments")
    assert.is_true(i.srtt_us >= 38000 and i.srtt_us <= 60000, "srtt " .. i.srtt_us)
  end)

  it("tracks a path delay change within a few RTTs, and RTO never drops below the minimum", function()
    local rto_min
    local w = tcpsim.pair { seed = 5, latency_us = 20000, config = function(cfg) rto_min = cfg.tcp_rto_min_us end }
    local c, s = w:establish(80)
    local chunk = tcpsim.bytes(65536, 5)
    local function pump(us)
      local stop = w:now() + us
      local lowest = math.huge
      w:run_until(function()
        C.tl_send(c, chunk, #chunk, w:now())
        w:read(s)
        local rto = w:info(c).rto_us
        if rto < lowest then lowest = rto end
        return w:now() >= stop
      end, us + 1e6)
      return lowest
    end
    -- 40 ms RTT: settle for 2 s of bulk transfer
    local low1 = pump(2e6)
    local before = w:info(c).srtt_us
    assert.is_true(before >= 38000 and before <= 50000, "srtt " .. before .. " before the change")
    -- add 40 ms each way: the RTT triples to 120 ms
    w:impair(w.ep_a, { delay_us = 40000 })
    w:impair(w.ep_b, { delay_us = 40000 })
    local low2 = pump(10 * 120000)
    local after = w:info(c)
    assert.is_true(after.srtt_us >= 0.75 * 120000 and after.srtt_us <= 140000,
      "srtt " .. after.srtt_us .. " us 10 RTTs after the RTT became 120 ms")
    assert.is_true(after.rto_us > after.srtt_us)
    assert.is_true(math.min(low1, low2) >= rto_min, "RTO fell to " .. math.min(low1, low2))
    assert.is_true(core.stats(w.a).tcp_ts_rtt_samples > 100)
    assert.are.equal(0, core.stats(w.a).tcp_rto_expired)
  end)
end)
