-- RFC 6675 4 NextSeg rule 4: the rescue retransmission of a lost tail,
-- against a scripted peer that SACKs what it got.
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"

local PORT, ISS, LAT = 7, 7000, 100

local function establish(p, sport)
  local s, sa = p:handshake(p:listen(PORT), { sport = sport, dport = PORT, seq = ISS, mss = 1460, sackok = true })
  return s, sa.seq
end

describe("SACK rescue retransmission (RFC 6675 4 rule 4)", function()
  it("resends a lost last segment once the holes below it are filled, once per recovery", function()
    local p = pkt.peer { seed = 71, latency_us = LAT, config = function(cfg) cfg.tcp_recovery = 1 end }
    local s, iss = establish(p, 3001)
    local M = pkt.info(s).snd_mss
    C.tl_send(s, string.rep("r", M * 10), M * 10, p:now())
    local segs = p:collect(1000)
    assert.are.equal(10, #segs)
    -- segments 1 and 10 lost: the peer SACKs 2-9; nothing above 10 will
    -- ever be SACKed, so no SACK can show it lost
    p:send { sport = 3001, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 65535,
      sack = { { iss + 1 + M, iss + 1 + 9 * M } } }
    local r = p:collect(1000)
    assert.are.equal(1, #r, "expected the hole only")
    assert.are.equal(iss + 1, r[1].seq)
    -- the resent hole arrives: the peer now holds 1-9; 10 is still missing
    p:send { sport = 3001, dport = PORT, seq = ISS + 1, ack = iss + 1 + 9 * M, flags = ".", win = 65535 }
    r = p:collect(1000)
    assert.are.equal(1, #r, "expected the rescue")
    assert.are.equal(iss + 1 + 9 * M, r[1].seq) -- the tail, up to the highest sequence sent
    assert.are.equal(M, #r[1].data)
    assert.are.equal(1, p:stats().tcp_rescue_rexmit)
    -- the same ACK again in this recovery sends no second rescue
    p:send { sport = 3001, dport = PORT, seq = ISS + 1, ack = iss + 1 + 9 * M, flags = ".", win = 65535 }
    assert.are.equal(0, #p:collect(1000))
    -- the rescue arrives: all acknowledged, long before any RTO
    p:send { sport = 3001, dport = PORT, seq = ISS + 1, ack = iss + 1 + 10 * M, flags = ".", win = 65535 }
    p:collect(1000)
    assert.are.equal(0, pkt.info(s).unacked)
    assert.are.equal(0, p:stats().tcp_rto_expired)
    assert.are.equal(1, p:stats().tcp_rescue_rexmit)
  end)

  it("sends no rescue when the tail was SACKed", function()
    local p = pkt.peer { seed = 72, latency_us = LAT, config = function(cfg) cfg.tcp_recovery = 1 end }
    local s, iss = establish(p, 3002)
    local M = pkt.info(s).snd_mss
    C.tl_send(s, string.rep("r", M * 10), M * 10, p:now())
    assert.are.equal(10, #p:collect(1000))
    -- only segment 1 lost
    p:send { sport = 3002, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 65535,
      sack = { { iss + 1 + M, iss + 1 + 10 * M } } }
    local r = p:collect(1000)
    assert.are.equal(1, #r)
    assert.are.equal(iss + 1, r[1].seq)
    assert.are.equal(0, p:stats().tcp_rescue_rexmit)
  end)
end)
