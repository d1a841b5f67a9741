-- SACK compression in a receive batch (core/tcp/tcp_rcv.c receive_ooo):
-- out-of-order segments the host reads in one wake-up share ACKs, as
-- Linux's receiver compresses SACKs, but every range they touch is still
-- reported as the first SACK block of some ACK (RFC 2018 4), so a sender's
-- RACK never sees received data as lost. Outside a batch each out-of-order
-- segment is ACKed by itself (RFC 5681 4.2).
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT, SEG = 80, 7000, 6100, 1000

local function open(seed)
  local p = pkt.peer { seed = seed }
  local _, sa = p:handshake(p:listen(PORT), { sport = SPORT, dport = PORT, seq = ISS, mss = 1460, sackok = true })
  p:collect(300000)
  return p, ISS + 1, sa.seq + 1
end

-- Feeds the segments straight into the stack as the host does, all in one
-- receive batch when `batch`; `seqs` are offsets from `base`.
local function feed(p, base, ack, offs, batch)
  if batch then C.tl_stack_batch(p.st, C.TL_BATCH_RX) end
  for _, off in ipairs(offs) do
    local bytes = pkt.build { src = p.peer_addr, dst = p.addr, sport = SPORT, dport = PORT, seq = base + off, ack = ack,
      flags = "P.", win = 65535, data = string.rep("x", SEG) }
    C.tl_stack_input(p.st, bytes, #bytes, p:now())
  end
  if batch then C.tl_stack_batch(p.st, 0) end
end

local function acks(p)
  local out = {}
  for _, s in ipairs(p:collect(1000)) do
    if s.flags == "." then out[#out + 1] = s end
  end
  return out
end

describe("SACK compression in a receive batch", function()
  it("sends one ACK for out-of-order segments that extend one range", function()
    local p, base, ack = open(71)
    -- the first segment is lost; five follow it, read in one batch
    feed(p, base, ack, { SEG, 2 * SEG, 3 * SEG, 4 * SEG, 5 * SEG }, true)
    local a = acks(p)
    assert.are.equal(1, #a, "expected one ACK for the batch, got " .. #a)
    assert.are.equal(base, a[1].ack)
    assert.are.same({ base + SEG, base + 6 * SEG }, a[1].sack[1])
    assert.are.equal(5, p:stats().tcp_ooo_segs)
  end)

  it("reports each new range first in an ACK of its own before the next range takes its place", function()
    local p, base, ack = open(72)
    -- holes at 0 and 3: ranges [1,3) and [4,6) arrive in one batch
    feed(p, base, ack, { SEG, 2 * SEG, 4 * SEG, 5 * SEG }, true)
    local a = acks(p)
    assert.are.equal(2, #a, "expected one ACK per range, got " .. #a)
    assert.are.same({ base + SEG, base + 3 * SEG }, a[1].sack[1])
    assert.are.same({ base + 4 * SEG, base + 6 * SEG }, a[2].sack[1])
    -- RFC 2018 4: the later ACK repeats the earlier range
    assert.are.same({ base + SEG, base + 3 * SEG }, a[2].sack[2])
  end)

  it("ACKs at once the segment that fills the hole, inside the batch", function()
    local p, base, ack = open(73)
    feed(p, base, ack, { SEG, 2 * SEG, 0, 3 * SEG }, true)
    local a = acks(p)
    -- the fill acknowledges the held range with it, at once; the in-order
    -- segment after it is a quick ACK at the end of the batch
    assert.are.equal(2, #a)
    assert.are.equal(base + 3 * SEG, a[1].ack)
    assert.is_nil(a[1].sack)
    assert.are.equal(base + 4 * SEG, a[2].ack)
  end)

  it("ACKs every out-of-order segment by itself outside a batch", function()
    local p, base, ack = open(74)
    feed(p, base, ack, { SEG, 2 * SEG, 3 * SEG }, false)
    local a = acks(p)
    assert.are.equal(3, #a)
    for i, s in ipairs(a) do
      assert.are.same({ base + SEG, base + (i + 1) * SEG }, s.sack[1])
    end
  end)
end)
