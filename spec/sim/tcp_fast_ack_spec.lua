-- Fewer pure ACKs on short connections: the window update a read earns and
-- the ACK of the peer's FIN (when it arrives in a host's receive batch) are
-- owed "now" rather than written at once, so the data or FIN the
-- application sends in answer carries them; when it sends nothing, the
-- stack's next poll, at the same time, still sends them.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT, LAT = 80, 9000, 5000, 100

local function accepted()
  -- These peers leave the echo unacknowledged for 300 ms, to see that no
  -- separate delayed ACK follows it: an RTO of at least 1 s (RFC 6298
  -- 2.4), not Linux's 200 ms, keeps a retransmission out of that window.
  -- Quick ACKs off: outside a host's receive batch the first segments
  -- would be ACKed one by one (in a batch, as the host feeds them, a quick
  -- ACK waits for the batch's end like any other and rides on the answer).
  local p = pkt.peer { seed = 21, latency_us = LAT, config = function(cfg)
    cfg.tcp_rto_min_us = 1000000
    cfg.tcp_quickacks = 0
  end }
  local l = p:listen(PORT, 4)
  p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7 }
  local sa = assert(p:expect(10000))
  p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
  p:collect(1000)
  return p, assert(C.tl_accept(l)), sa.seq + 1
end

-- Feeds a segment straight into the stack (not through the sim), as the
-- host does, optionally inside a receive batch.
local function feed(p, t, batch)
  t.src, t.dst, t.sport, t.dport, t.win = p.peer_addr, p.addr, SPORT, PORT, 65535
  local bytes = pkt.build(t)
  if batch then C.tl_stack_batch(p.st, C.TL_BATCH_RX) end
  C.tl_stack_input(p.st, bytes, #bytes, p:now())
  if batch then C.tl_stack_batch(p.st, 0) end
end

local function window_of(seg) return seg.win * 128 end

describe("ACKs that ride on the application's answer", function()
  it("sends the window update a read earns on the echo itself, in one segment", function()
    local p, s, base = accepted()
    feed(p, { seq = ISS + 1, ack = base, flags = "P.", data = "x" })
    local buf = ffi.new("uint8_t[16]")
    assert.are.equal(1, tonumber(C.tl_recv(s, buf, 16, p:now())))
    assert.are.equal(1, tonumber(C.tl_send(s, buf, 1, p:now())))
    local segs = p:collect(300000)
    assert.are.equal(1, #segs, "expected the echo alone, got " .. #segs .. " segments")
    assert.are.equal("x", segs[1].data)
    assert.are.equal(ISS + 2, segs[1].ack)
    assert.is_true(window_of(segs[1]) > 65535, "the echo does not carry the opened window")
  end)

  it("still sends the window update at once when the application answers nothing", function()
    local p, s, base = accepted()
    feed(p, { seq = ISS + 1, ack = base, flags = "P.", data = "x" })
    local t0 = p:now()
    local buf = ffi.new("uint8_t[16]")
    assert.are.equal(1, tonumber(C.tl_recv(s, buf, 16, t0)))
    local u = assert(p:expect(300000))
    assert.are.equal(".", u.flags)
    assert.are.equal(ISS + 2, u.ack)
    assert.is_true(window_of(u) > 65535)
    assert.is_true(p:now() - t0 <= 2 * LAT, "window update delayed by " .. (p:now() - t0) .. " us")
  end)

  it("acknowledges a FIN read in a batch together with the application's own FIN", function()
    local p, s, base = accepted()
    feed(p, { seq = ISS + 1, ack = base, flags = "F." }, true)
    assert.are.equal("CLOSE-WAIT", pkt.state(s))
    C.tl_close(s, p:now())
    local segs = p:collect(300000)
    assert.are.equal(1, #segs, "expected FIN+ACK alone, got " .. #segs .. " segments")
    assert.are.equal("F.", segs[1].flags)
    assert.are.equal(ISS + 2, segs[1].ack)
  end)

  it("acknowledges a FIN read in a batch by the next poll when the application stays open", function()
    local p, s, base = accepted()
    local t0 = p:now()
    feed(p, { seq = ISS + 1, ack = base, flags = "F." }, true)
    local a = assert(p:expect(300000))
    assert.are.equal(".", a.flags)
    assert.are.equal(ISS + 2, a.ack)
    assert.is_true(p:now() - t0 <= 2 * LAT, "ACK of the FIN delayed by " .. (p:now() - t0) .. " us")
    assert.are.equal("CLOSE-WAIT", pkt.state(s))
  end)

  it("acknowledges a FIN outside a batch at once, as before", function()
    local p, s, base = accepted()
    feed(p, { seq = ISS + 1, ack = base, flags = "F." }, false)
    C.tl_close(s, p:now())
    local segs = p:collect(300000)
    assert.are.equal(2, #segs)
    assert.are.equal(".", segs[1].flags)
    assert.are.equal("F.", segs[2].flags)
  end)
end)
