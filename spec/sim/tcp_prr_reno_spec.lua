-- Proportional rate reduction without SACK (RFC 6937 3): DeliveredData is
-- the change in SND.UNA plus one MSS per duplicate ACK, and the sender
-- keeps transmitting through recovery at about ssthresh/RecoverFS of what
-- is delivered, instead of inflating cwnd per duplicate (RFC 5681 3.2) and
-- staying silent until the inflation passes the flight.
local bulkpeer = require "helpers.bulkpeer"

-- The stack sent a flight of 20 segments; the first is lost and each of
-- the other 19 draws a duplicate ACK. Returns the bulk peer, the segments
-- each duplicate let out, and the index of the one that started recovery.
local function recovery(cc, seed)
  local b = bulkpeer.new { seed = seed, latency_us = 100, sack = false, cc = cc, total = 1460 * 80 }
  local M, p = b.mss, b.p
  local flight = b:flight_of_20()
  local sent, entered = {}, nil
  for _ = 2, #flight do
    b:ack() -- a duplicate: rcv_nxt stays at the lost segment
    sent[#sent + 1] = #p:collect(300)
    if not entered and b:info().fast_retrans == 1 then entered = #sent end
  end
  assert(entered, "no recovery")
  return b, sent, entered
end

describe("PRR without SACK (RFC 6937 3)", function()
  for _, cc in ipairs({ { 1, "newreno" }, { 2, "cubic" } }) do
    it(cc[2] .. ": sends about ssthresh/RecoverFS per duplicate ACK from the start of recovery, ending at ssthresh", function()
      local b, sent, entered = recovery(cc[1], 30 + cc[1])
      local M, p = b.mss, b.p
      local i = b:info()
      local ssthresh = i.ssthresh / M
      local log = table.concat(sent, " ")
      -- no silence while the old inflation would climb past the flight:
      -- every three duplicates after entry let out two or so
      for k = entered + 1, #sent - 2, 3 do
        local n = sent[k] + sent[k + 1] + sent[k + 2]
        assert.is_true(n >= 1 and n <= 3, ("%d segments for 3 ACKs from %d: %s"):format(n, k, log))
      end
      -- the first four duplicates after entry deliver four segments; at
      -- ssthresh/RecoverFS >= 1/2, less the retransmission, that lets one
      -- or more out (cwnd inflated from ssthresh + 3 SMSS would still be
      -- short of the flight then: silence)
      local early = 0
      for k = entered + 1, entered + 4 do early = early + sent[k] end
      assert.is_true(early >= 1, ("%d segments for the first 4 ACKs: %s"):format(early, log))
      -- over the recovery about ssthresh went out (the retransmission included)
      local total = 0
      for k = entered, #sent do total = total + sent[k] end
      assert.is_true(total >= 0.8 * ssthresh and total <= ssthresh + 1,
        ("%d segments in recovery, ssthresh %.1f: %s"):format(total, ssthresh, log))
      -- the full ACK ends recovery: no burst, the window is ssthresh
      b.rcv_nxt = 30 * M
      b:ack()
      local burst = #p:collect(300)
      assert.are.equal(i.ssthresh, b:info().ssthresh)
      assert.are.equal(i.ssthresh, b:info().cwnd)
      assert.is_true(burst <= 2, burst .. " segments at recovery exit")
    end)
  end
end)
