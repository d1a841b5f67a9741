-- The receiver's ACK pace where it decides a sender's speed (as Linux):
-- quick ACKs for the first segments of a connection and after an idle
-- period, so a peer in slow start is not held back by delayed ACKs; and
-- the passive open's first RTT sample from the handshake (RFC 6298 2.2),
-- so its first RTO is not the 1 s of RFC 6298 2.1.
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"

local PORT, ISS, LAT = 7, 5000, 1000 -- one way: RTT 2 ms

local function accepted(seed, config)
  local p = pkt.peer { seed = seed, latency_us = LAT, config = config }
  local s, sa = p:handshake(p:listen(PORT), { sport = 6000, dport = PORT, seq = ISS, mss = 1000 })
  local c = { p = p, s = s, seq = ISS + 1, ack = sa.seq + 1 }
  -- one lone data segment; returns the ACK and how long it took
  function c.lone(data)
    local t0 = p:now()
    p:send { sport = 6000, dport = PORT, seq = c.seq, ack = c.ack, flags = "P.", data = data, win = 65535 }
    c.seq = c.seq + #data
    local a = assert(p:expect(1e6), "no ACK")
    assert.are.equal(c.seq, a.ack)
    return a, p:now() - t0
  end
  return c
end

describe("quick ACKs (as Linux's quickack mode)", function()
  it("acknowledges the first segments of a connection at once, then delays a lone one", function()
    local c = accepted(31)
    for k = 1, 15 do
      local _, took = c.lone("q" .. k)
      assert.is_true(took <= 2 * LAT + 10, ("segment %d ACKed after %d us"):format(k, took))
    end
    local _, took = c.lone("late")
    assert.is_true(took >= 40000, "the 16th lone segment was not delayed: " .. took)
  end)

  it("acknowledges at once again after a silence longer than the RTO", function()
    local c = accepted(32)
    for k = 1, 16 do c.lone("w" .. k) end -- past the quick ACKs
    local rto = pkt.info(c.s).rto_us
    c.p:collect(rto + 1000)
    local _, took = c.lone("after idle")
    assert.is_true(took <= 2 * LAT + 10, "ACKed after " .. took .. " us")
  end)

  it("is off with tcp_quickacks = 0", function()
    local c = accepted(33, function(cfg) cfg.tcp_quickacks = 0 end)
    local _, took = c.lone("first")
    assert.is_true(took >= 40000, "ACKed after " .. took .. " us")
  end)
end)

describe("RTT from the handshake on a passive open (RFC 6298 2.2)", function()
  it("takes the SYN-ACK's round trip as the first sample", function()
    local c = accepted(34)
    local i = pkt.info(c.s)
    assert.is_true(i.srtt_us >= 2 * LAT and i.srtt_us <= 2 * LAT + 1000, "srtt " .. i.srtt_us)
    assert.is_true(i.rto_us < 1000000, "RTO still the initial 1 s: " .. i.rto_us)
  end)

  it("takes none when the SYN-ACK was retransmitted (Karn, RFC 6298 3)", function()
    local p = pkt.peer { seed = 35, latency_us = LAT }
    local l = p:listen(PORT)
    p:send { sport = 6001, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1000 }
    assert(p:expect(100000), "no SYN-ACK")
    local sa = assert(p:expect(2e6), "no retransmitted SYN-ACK") -- the first ACK "was lost"
    p:send { sport = 6001, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
    p:collect(3 * LAT)
    local s = C.tl_accept(l)
    assert.is_true(s ~= nil, "nothing to accept")
    assert.are.equal(0, pkt.info(s).srtt_us, "a sample from a retransmitted SYN-ACK")
  end)
end)
