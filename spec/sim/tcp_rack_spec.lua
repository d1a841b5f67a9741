-- RACK-TLP (RFC 8985), the default loss detection with SACK: losses found
-- by time rather than by counting duplicates, so a lost retransmission, a
-- loss in a small window and a lost tail are repaired in about a round
-- trip instead of by the RTO. Against a scripted SACK peer
-- (spec/helpers/tcppkt.lua) that decides which segments "arrive".
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"

local PORT, ISS, MSS = 7, 9000, 1000
local LAT = 100 -- one way: RTT 200 us (the handshake helper waits 1 ms)

-- A connection with `segs` full segments queued and the first window out.
-- ack(n, blocks) acknowledges the first n segments with SACK blocks in
-- segment numbers and returns the segments the stack sent in answer within
-- `wait_us` (default: one RTT).
local function sender(seed, sport, segs, config)
  local p = pkt.peer { seed = seed, latency_us = LAT, config = config }
  local l = p:listen(PORT)
  local s, sa = p:handshake(l, { sport = sport, dport = PORT, seq = ISS, mss = MSS, sackok = true })
  local base = sa.seq + 1
  local data = string.rep("r", segs * MSS)
  assert.are.equal(#data, tonumber(C.tl_send(s, data, #data, p:now())))
  local c = { p = p, s = s, base = base, first = p:collect(2 * LAT) }
  function c.ack(n, blocks, wait_us)
    local sack = {}
    for i, b in ipairs(blocks or {}) do sack[i] = { base + b[1] * MSS, base + b[2] * MSS } end
    p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = base + n * MSS, flags = ".", win = 65535,
      sack = #sack > 0 and sack or nil }
    return p:collect(wait_us or 2 * LAT)
  end
  function c.segno(seg) return math.floor(((seg.seq - base) % 4294967296) / MSS) end
  function c.stat(name) return p:stats()[name] or 0 end
  return c
end

local function segnos(c, segs)
  local t = {}
  for _, g in ipairs(segs) do
    if #g.data > 0 then t[#t + 1] = c.segno(g) end
  end
  return t
end

describe("RACK loss detection (RFC 8985 6)", function()
  it("resends a segment once a segment sent after it is SACKed and the reordering window passes", function()
    local c = sender(91, 5001, 10)
    assert.are.equal(10, #c.first, "initial window")
    -- 1..3 arrive, 0 does not: three segments SACKed (DupThresh) means no
    -- reordering window (6.2 step 4), so 0 is lost at once.
    local out = c.ack(0, { { 1, 4 } })
    assert.are.same(0, segnos(c, out)[1], "segment 0 not resent")
    assert.are.equal(1, c.stat("tcp_rack_recovery"))
    assert.are.equal(0, c.stat("tcp_rto_expired"))
  end)

  it("finds a lost retransmission by the delivery of a segment sent after it, with no RTO", function()
    local c = sender(92, 5002, 30)
    local out = c.ack(0, { { 1, 4 } })
    assert.are.same(0, segnos(c, out)[1], "no first retransmission")
    -- The retransmission is lost too; new data sent after it (4..) keeps
    -- arriving and is SACKed. DupThresh counting cannot see this: the hole
    -- has been resent once already (RFC 6675 HighRxt).
    local again
    for k = 5, 12 do
      out = c.ack(0, { { 1, k } }, 2 * LAT)
      for _, n in ipairs(segnos(c, out)) do
        if n == 0 then again = true end
      end
      if again then break end
    end
    assert.is_true(again, "the lost retransmission was never resent")
    assert.are.equal(0, c.stat("tcp_rto_expired"))
    assert.is_true(c.stat("tcp_rack_rexmit") >= 2)
  end)

  it("repairs a lost tail with a loss probe rather than the RTO (RFC 8985 7)", function()
    local c = sender(93, 5003, 6)
    assert.are.equal(6, #c.first)
    -- 0..3 arrive, 4 and 5 (the tail) are lost: no SACK can report them.
    c.ack(4, nil, 0)
    -- The probe (the last segment again) goes after about 2 SRTT, well
    -- before the RTO (at least 200 ms).
    local probe = c.p:collect(60000)
    local nos = segnos(c, probe)
    assert.are.same(5, nos[1], "no loss probe of the last segment")
    assert.are.equal(1, c.stat("tcp_tlp_probes"))
    assert.are.equal(0, c.stat("tcp_rto_expired"))
    -- The probe arrives and is SACKed: RACK now finds 4 lost.
    local out = c.ack(4, { { 5, 6 } })
    assert.are.same(4, segnos(c, out)[1], "segment 4 not resent after the probe's SACK")
    c.ack(6)
    assert.are.equal(0, c.stat("tcp_rto_expired"))
    assert.are.equal(0, pkt.info(c.s).unacked)
  end)

  it("waits a reordering window before calling a segment lost while fewer than DupThresh are SACKed", function()
    local c = sender(94, 5004, 10)
    -- Only segment 2 is SACKed: 0 and 1 may be merely late.
    local out = c.ack(0, { { 2, 3 } }, 0)
    assert.are.equal(0, #segnos(c, out), "resent at once, with no reordering window")
    -- min_RTT/4 later (RFC 8985 6.2 step 4) the reordering timer fires.
    out = c.p:collect(4 * LAT)
    local nos = segnos(c, out)
    assert.are.same({ 0, 1 }, { nos[1], nos[2] }, "0 and 1 not resent by the reordering timer")
    assert.is_true(c.stat("tcp_rack_reo_timeout") >= 1)
  end)

  it("leaves DupThresh counting in charge when TL_OPT_RECOVERY is dupack", function()
    local c = sender(95, 5005, 6, function(cfg) cfg.tcp_recovery = 1 end)
    assert.are.equal(1, C.tl_getopt(c.s, C.TL_OPT_RECOVERY))
    c.ack(4, nil, 0)
    c.p:collect(150000) -- no probe: the tail waits for the RTO (RFC 6675 has none)
    assert.are.equal(0, c.stat("tcp_tlp_probes"))
    assert.are.equal(0, c.stat("tcp_rack_recovery"))
  end)
end)
