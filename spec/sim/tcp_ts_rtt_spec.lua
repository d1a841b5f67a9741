-- RFC 7323 4 (RTTM): during loss recovery, where Karn's rule (RFC 6298 3)
-- forbids the timed RTT sample, the echoed timestamp still gives one.
local core = require "tcplua.core"
local tcpsim = require "helpers.tcpsim"

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

  it("takes no timestamp sample on a clean path, where timed samples suffice", function()
    local w = tcpsim.pair { seed = 3, latency_us = 20000 }
    local c, s = w:establish(80)
    local data = tcpsim.bytes(200000, 3)
    local got = w:stream(c, s, data, 600e6)
    assert.are.equal(#data, #got)
    assert.are.equal(0, core.stats(w.a).tcp_ts_rtt_samples)
    local srtt = w:info(c).srtt_us
    assert.is_true(srtt >= 38000 and srtt <= 60000, "srtt " .. srtt)
  end)
end)
