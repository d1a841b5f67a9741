-- D-SACK on the sending side: blocks the peer sends for data it got twice
-- are recognised (RFC 2883 4) and kept off the scoreboard, and a recovery
-- whose every retransmission comes back D-SACKed was spurious and is
-- undone (RFC 3708, with the undo of RFC 9438 4.9 in core/tcp/tcp_cc_undo.c),
-- for peers that SACK but send no timestamps. First against a scripted
-- peer (spec/helpers/tcppkt.lua), then two stacks over a reordering path.
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"
local tcpsim = require "helpers.tcpsim"

local PORT, ISS, MSS = 7, 9000, 1000
local NO_SSTHRESH = 0xffffffff -- "arbitrarily high": slow start never left

-- A connection from a scripted peer that offers SACK and no timestamps;
-- the stack has `segs` full segments queued and the first window (10, RFC
-- 6928) out. Returns a table with the peer, the socket, the first data
-- sequence number, and ack(n, sack) to acknowledge the first n segments
-- with SACK blocks given in segment numbers ({ {from, to}, ... }, from 0).
local function sender(seed, sport, segs)
  local p = pkt.peer { seed = seed, latency_us = 100, config = function(cfg) cfg.tcp_recovery = 1 end } -- RFC 6675 DupThresh
  local l = p:listen(PORT)
  local s, sa = p:handshake(l, { sport = sport, dport = PORT, seq = ISS, mss = MSS, sackok = true })
  assert.are.equal(MSS, pkt.info(s).snd_mss)
  local base = sa.seq + 1
  local data = string.rep("d", segs * MSS)
  assert.are.equal(#data, tonumber(C.tl_send(s, data, #data, p:now())))
  local first = p:collect(1000)
  assert.are.equal(10, #first, "initial window")
  local c = { p = p, s = s, base = base }
  function c.ack(n, blocks)
    local sack = {}
    for i, b in ipairs(blocks or {}) do sack[i] = { base + b[1] * MSS, base + b[2] * MSS } end
    p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = base + n * MSS, flags = ".", win = 65535,
      sack = #sack > 0 and sack or nil }
    return p:collect(1000)
  end
  function c.stat(name) return p:stats()[name] end
  return c
end

-- Segment 0 is late: three duplicate ACKs SACK 1, 1-2, 1-3 and the stack
-- resends segment 0 (RFC 6675 5). Returns the window before the cut and
-- the number of segments sent by then (RFC 3042 limited transmit added
-- two): the ACK of all of them ends recovery.
local function fast_retransmit(c)
  local before = pkt.info(c.s)
  c.ack(0, { { 1, 2 } })
  c.ack(0, { { 1, 3 } })
  local r = c.ack(0, { { 1, 4 } })
  assert.are.equal(1, pkt.info(c.s).fast_retrans)
  assert.are.equal(c.base, r[1] and r[1].seq, "no fast retransmit of segment 0")
  assert.is_true(pkt.info(c.s).ssthresh < NO_SSTHRESH, "window not reduced")
  return before, (pkt.info(c.s).snd_nxt - c.base) / MSS
end

describe("D-SACK reception (RFC 2883 4)", function()
  it("recognises a first block below the ACK or inside the second one, and never counts it as SACK news", function()
    local c = sender(81, 4001, 12)
    -- the peer got segment 5 twice (below its cumulative ACK of 6): D-SACK
    c.ack(6, { { 5, 6 } })
    assert.are.equal(1, c.stat("tcp_dsack_recv"))
    -- segment 8 twice while 7 is missing: D-SACK inside the block 8-9
    c.ack(6, { { 8, 9 }, { 8, 10 } })
    assert.are.equal(2, c.stat("tcp_dsack_recv"))
    -- the same report again, and D-SACKs alone: nothing new, so these are
    -- not duplicate ACKs (RFC 6675 2) and no recovery starts, though three
    -- of them came
    c.ack(6, { { 8, 9 }, { 8, 10 } })
    c.ack(6, { { 2, 3 }, { 8, 10 } })
    c.ack(6, { { 4, 5 }, { 8, 10 } })
    assert.are.equal(5, c.stat("tcp_dsack_recv"))
    assert.are.equal(0, pkt.info(c.s).fast_retrans)
    assert.are.equal(1, pkt.info(c.s).dupacks) -- only the first report of 8-10 was news
    -- a first block that is neither is ordinary SACK information
    c.ack(6, { { 11, 12 }, { 8, 10 } })
    assert.are.equal(5, c.stat("tcp_dsack_recv"))
    assert.are.equal(2, pkt.info(c.s).dupacks)
  end)
end)

describe("spurious retransmission detection by D-SACK (RFC 3708)", function()
  it("undoes a fast retransmit whose retransmission comes back D-SACKed", function()
    local c = sender(82, 4002, 30)
    local before, sent = fast_retransmit(c)
    -- the late original arrives: everything sent so far is acknowledged
    -- and recovery ends; then the resent copy arrives as a duplicate
    c.ack(sent)
    assert.are.equal(0, c.stat("tcp_spurious_undo"))
    c.ack(sent, { { 0, 1 } })
    assert.are.equal(1, c.stat("tcp_spurious_undo"))
    assert.are.equal(1, c.stat("tcp_spurious_dsack"))
    local after = pkt.info(c.s)
    assert.are.equal(before.ssthresh, after.ssthresh) -- back in slow start
    assert.is_true(after.cwnd >= before.cwnd, ("cwnd %d, %d before the cut"):format(after.cwnd, before.cwnd))
  end)

  it("decides only when recovery has ended", function()
    local c = sender(83, 4003, 30)
    local before, sent = fast_retransmit(c)
    -- the duplicate is reported on a partial ACK, while recovery lasts
    c.ack(4, { { 0, 1 } })
    assert.are.equal(1, c.stat("tcp_dsack_recv"))
    assert.are.equal(0, c.stat("tcp_spurious_undo"))
    c.ack(sent)
    assert.are.equal(1, c.stat("tcp_spurious_undo"))
    assert.are.equal(before.ssthresh, pkt.info(c.s).ssthresh)
  end)

  it("keeps the cut when the retransmission filled a real hole", function()
    local c = sender(84, 4004, 40)
    local _, sent = fast_retransmit(c)
    local cut = pkt.info(c.s).ssthresh
    c.ack(sent) -- recovery ends; no duplicate is reported
    -- acknowledge everything sent until then and a little more
    local top = sent
    for _ = 1, 10 do
      local i = pkt.info(c.s)
      top = (i.snd_nxt - c.base) / MSS
      if top >= 20 then break end
      c.ack(top)
    end
    assert.is_true(top >= 20, "the window did not reopen")
    c.ack(top)
    -- a D-SACK of segment 0 now (a copy the network duplicated, long
    -- after) is too late to speak for that recovery
    c.ack(top, { { 0, 1 } })
    assert.are.equal(1, c.stat("tcp_dsack_recv"))
    assert.are.equal(0, c.stat("tcp_spurious_undo"))
    assert.are.equal(cut, pkt.info(c.s).ssthresh)
  end)

  it("needs every retransmission of the episode D-SACKed", function()
    local c = sender(85, 4005, 30)
    local _, sent = fast_retransmit(c)
    -- segment 4 is missing too, with three SACKed above it: lost, resent
    local r = c.ack(0, { { 5, 8 }, { 1, 4 } })
    local resent
    for _, seg in ipairs(r) do
      if seg.seq == c.base + 4 * MSS then resent = true end
    end
    assert.is_true(resent, "segment 4 was not resent")
    local cut = pkt.info(c.s).ssthresh
    -- only segment 0's copy comes back twice: 4 was really lost
    c.ack(sent, { { 0, 1 } })
    c.ack(sent)
    assert.are.equal(1, c.stat("tcp_dsack_recv"))
    assert.are.equal(0, c.stat("tcp_spurious_undo"))
    assert.are.equal(cut, pkt.info(c.s).ssthresh)
  end)
end)

describe("D-SACK undo between two stacks, the receiver without timestamps", function()
  local data = tcpsim.bytes(2 * 1024 * 1024, 22)

  -- A bulk transfer a -> b over `impair`, b declining timestamps (so a
  -- has only D-SACK to go on); returns seconds, a's stats, the client's info.
  local function transfer(seed, impair, no_undo)
    return tcpsim.bulk(data, { seed = seed, latency_us = 10000, impair_a = impair, no_undo = no_undo, recovery = "dupack",
      timestamps = false })
  end

  it("undoes the fast retransmits that reordering alone caused", function()
    local reorder = { reorder = 0.05, reorder_gap = 3, rate_bps = 100e6 } -- no loss at all
    for seed = 1, 3 do
      local t, st = transfer(seed, reorder, false)
      local t_cut, st_cut = transfer(seed, reorder, true)
      assert.is_true(st.tcp_dsack_recv > 0, "seed " .. seed .. ": no D-SACK")
      assert.is_true(st_cut.tcp_fast_retrans >= 10, "seed " .. seed .. ": reordering too rare to tell")
      assert.is_true(st.tcp_spurious_dsack >= 1, "seed " .. seed .. ": nothing undone")
      assert.are.equal(st.tcp_spurious_dsack, st.tcp_spurious_undo) -- no timestamps: D-SACK alone
      -- every fast retransmit was spurious; the last one's D-SACK may
      -- come after a new episode began, or after the transfer ended
      assert.is_true(st.tcp_spurious_undo >= st.tcp_fast_retrans - 1,
        ("seed %d: %d of %d undone"):format(seed, st.tcp_spurious_undo, st.tcp_fast_retrans))
      assert.is_true(t * 3 < t_cut, ("seed %d: %.2f s with undo, %.2f s without"):format(seed, t, t_cut))
    end
  end)

  it("does not undo the response to real losses", function()
    for seed = 1, 3 do
      local imp = { loss = 0.01, rate_bps = 100e6 }
      local t, st, info = transfer(seed, imp, false)
      local t_cut = transfer(seed, imp, true)
      assert.is_true(st.tcp_fast_retrans > 0, "seed " .. seed .. ": no loss recovery")
      assert.are.equal(0, st.tcp_spurious_undo, "seed " .. seed)
      assert.is_true(info.ssthresh < NO_SSTHRESH, "seed " .. seed .. ": window never reduced")
      assert.are.equal(t_cut, t, "seed " .. seed .. ": behaviour changed without reordering")
    end
  end)
end)
