-- RFC 2883 D-SACK generation: a scripted peer (spec/helpers/tcppkt.lua)
-- sends data twice; the ACK for the repeat names the duplicate range in its
-- first SACK block, once.
local pkt = require "helpers.tcppkt"

local PORT, ISS = 80, 7000

-- A connection from the scripted peer (SACK-permitted unless sack = false);
-- returns the peer, the first data sequence number and our ISS + 1.
local function open(seed, sport, sack)
  local p = pkt.peer { seed = seed }
  local _, sa = p:handshake(p:listen(PORT), { sport = sport, dport = PORT, seq = ISS, mss = 1460,
    sackok = sack ~= false })
  return p, ISS + 1, sa.seq + 1
end

-- Send data and return the ACK that answers it (the first one acking at
-- least `want`, or carrying SACK blocks when `want` is nil).
local function put(p, sport, seq, ack, data)
  p:send { sport = sport, dport = PORT, seq = seq, ack = ack, flags = "P.", win = 65535, data = data }
  local r = p:expect(300000)
  assert(r, "no ACK")
  return r
end

describe("D-SACK generation (RFC 2883)", function()
  it("reports a repeat of acknowledged data as the first SACK block, once (RFC 2883 4.1.1)", function()
    local p, base, ack = open(61, 6001)
    local a1 = put(p, 6001, base, ack, string.rep("a", 1000))
    local a2 = put(p, 6001, base + 1000, ack, string.rep("b", 1000))
    assert.are.equal(base + 2000, math.max(a1.ack, a2.ack))
    p:collect(300000) -- a delayed ACK, if any
    -- the peer resends the first segment: it lies wholly below RCV.NXT
    local d = put(p, 6001, base, ack, string.rep("a", 1000))
    assert.are.equal(base + 2000, d.ack)
    assert.is_not_nil(d.sack, "no D-SACK block")
    assert.are.same({ base, base + 1000 }, d.sack[1])
    assert.are.equal(1, p:stats().tcp_dsack_sent)
    -- reported once: the next ACK (for new data) carries no SACK at all
    local n = put(p, 6001, base + 2000, ack, string.rep("c", 1000))
    assert.is_nil(n.sack)
  end)

  it("reports only the duplicate part of a segment that also brings new data", function()
    local p, base, ack = open(62, 6002)
    put(p, 6002, base, ack, string.rep("a", 1000))
    p:collect(300000)
    local r = put(p, 6002, base + 500, ack, string.rep("x", 1000))
    assert.are.equal(base + 1500, r.ack)
    assert.is_not_nil(r.sack, "no D-SACK block")
    assert.are.same({ base + 500, base + 1000 }, r.sack[1])
  end)

  it("reports a repeat of out-of-order data first, then the block that holds it (RFC 2883 4.1.2)", function()
    local p, base, ack = open(63, 6003)
    local a1 = put(p, 6003, base + 1000, ack, string.rep("b", 500))
    assert.are.same({ { base + 1000, base + 1500 } }, a1.sack)
    local a2 = put(p, 6003, base + 2000, ack, string.rep("c", 500))
    assert.are.same({ base + 2000, base + 2500 }, a2.sack[1])
    -- the first out-of-order segment arrives again
    local d = put(p, 6003, base + 1000, ack, string.rep("b", 500))
    assert.are.equal(base, d.ack)
    assert.are.same({ base + 1000, base + 1500 }, d.sack[1]) -- D-SACK (above the ACK: RFC 2883 4.2)
    assert.are.same({ base + 1000, base + 1500 }, d.sack[2]) -- the block containing it
    assert.are.same({ base + 2000, base + 2500 }, d.sack[3])
    assert.are.equal(1, p:stats().tcp_dsack_sent)
    -- the data itself is still delivered once, in order, when the hole fills
    local f = put(p, 6003, base, ack, string.rep("a", 1000))
    assert.are.equal(base + 1500, f.ack)
  end)

  it("sends no D-SACK when SACK was not agreed (RFC 2018 2)", function()
    local p, base, ack = open(64, 6004, false)
    put(p, 6004, base, ack, string.rep("a", 1000))
    p:collect(300000)
    local d = put(p, 6004, base, ack, string.rep("a", 1000))
    assert.are.equal(base + 1000, d.ack)
    assert.is_nil(d.sack)
    assert.are.equal(0, p:stats().tcp_dsack_sent)
  end)
end)
