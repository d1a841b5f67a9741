-- Loss recovery: SACK (RFC 2018, RFC 6675) repairs several holes in one
-- round trip where NewReno (RFC 6582) needs one per hole; D-SACKs (RFC
-- 2883) are tolerated; and two liveness fixes (zero-window ACKs, RTO
-- backoff after progress) keep a lossy two-way transfer from stalling.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local bulkpeer = require "helpers.bulkpeer"
local tcpsim = require "helpers.tcpsim"
local pkt = require "helpers.tcppkt"

local LAT = 10000 -- one way: RTT 20 ms

-- The arrival times (relative to the first segment's) of the copies that
-- filled the holes at `offs`.
local function three_losses(sack, cc)
  local b = bulkpeer.new { seed = 21, latency_us = LAT, sack = sack, cc = cc, total = 1460 * 10, recovery = "dupack" }
  local M = b.mss
  local holes = { 1 * M, 4 * M, 7 * M }
  for _, off in ipairs(holes) do b:drop(off) end
  for _ = 1, 10 do
    b:run(2 * LAT)
    if b:info().unacked == 0 and b.queued == 10 * M then break end
  end
  local t_first = b.log[1].t
  local fill = {}
  for _, e in ipairs(b.log) do
    for k, off in ipairs(holes) do
      if e.off == off then fill[k] = (e.t - t_first) / (2 * LAT) end
    end
  end
  return b, fill
end

describe("SACK loss recovery (RFC 6675)", function()
  it("repairs three losses in one window in one round trip", function()
    local b, fill = three_losses(true)
    assert.are.equal(3, #fill, "a hole was never filled")
    for k = 1, 3 do
      assert.is_true(math.abs(fill[k] - 1) < 0.05, ("hole %d filled after %.2f RTT"):format(k, fill[k]))
    end
    local i = b:info()
    assert.are.equal(0, i.unacked)
    assert.are.equal(3, tonumber(i.total_retrans), "exactly the three lost segments were resent")
    assert.are.equal(1, i.fast_retrans, "one recovery episode")
  end)

  it("while NewReno without SACK needs a round trip per hole (RFC 6582)", function()
    for _, cc in ipairs({ 1, 2 }) do -- NewReno, and CUBIC's NewReno-style recovery
      local b, fill = three_losses(false, cc)
      assert.are.equal(3, #fill)
      for k = 1, 3 do
        assert.is_true(math.abs(fill[k] - k) < 0.05, ("cc %d: hole %d filled after %.2f RTT"):format(cc, k, fill[k]))
      end
      assert.are.equal(3, tonumber(b:info().total_retrans))
      assert.are.equal(1, b:info().fast_retrans)
    end
  end)
end)

describe("proportional rate reduction (RFC 6937)", function()
  it("keeps sending through recovery at about ssthresh/RecoverFS per delivered segment", function()
    local b = bulkpeer.new { seed = 26, latency_us = 100, sack = true, total = 1460 * 80 }
    local M, p = b.mss, b.p
    local flight = b:flight_of_20()
    -- the first segment of the flight is lost; the other 19 are SACKed one
    -- ACK at a time, and we count what each ACK lets out
    local sent, entered = {}, nil
    for k = 2, #flight do
      b:ack { sack = { { b.base + 11 * M, b.base + (10 + k) * M } } }
      sent[#sent + 1] = #p:collect(300)
      if not entered and b:info().fast_retrans == 1 then entered = #sent end
    end
    assert(entered, "no recovery")
    local i = b:info()
    local ssthresh = i.ssthresh / M
    -- while the pipe is above ssthresh, about 0.7 segment per ACK: neither
    -- silence until the pipe drains (RFC 6675 alone) nor one per ACK
    local early = 0
    for k = entered + 1, entered + 7 do early = early + sent[k] end
    assert.is_true(early >= 3 and early <= 6, ("%d segments for 7 ACKs: %s"):format(early, table.concat(sent, " ")))
    -- over the recovery, about ssthresh went out (retransmission included)
    local total = 0
    for k = entered, #sent do total = total + sent[k] end
    assert.is_true(total >= 0.8 * ssthresh and total <= ssthresh + 1,
      ("%d segments in recovery, ssthresh %.1f"):format(total, ssthresh))
    -- and recovery ends at ssthresh once the hole is filled
    b.rcv_nxt = 30 * M
    b:ack()
    p:collect(300)
    assert.are.equal(i.ssthresh, b:info().ssthresh)
    assert.is_true(b:info().cwnd >= i.ssthresh)
  end)
end)

-- A SACK peer that received the stack's first window of ten segments and
-- acknowledges the first `acked` of them. Returns the bulk peer. These
-- specify RFC 6675's DupThresh counting (RACK-TLP would send a loss probe
-- into the silence they leave: tcp_rack_spec.lua).
local function ten_sent(seed, acked)
  local b = bulkpeer.new { seed = seed, latency_us = LAT, sack = true, total = 1460 * 10, recovery = "dupack" }
  b:fill()
  assert.are.equal(10, #b.p:collect(2 * LAT))
  b.rcv_nxt = acked * b.mss
  b:ack()
  return b
end

describe("D-SACK reception (RFC 2883)", function()
  it("takes D-SACK blocks without retransmitting or entering recovery", function()
    local b = ten_sent(22, 5)
    local M, p = b.mss, b.p
    p:collect(2 * LAT)
    local cwnd = b:info().cwnd
    local base = b.base
    -- a D-SACK below the cumulative ACK, four times (4.1.1)
    for _ = 1, 4 do b:ack { sack = { { base, base + M } } } end
    -- a D-SACK inside a SACK block (4.1.2), then the same report repeated
    for _ = 1, 4 do b:ack { sack = { { base + 6 * M, base + 7 * M }, { base + 6 * M, base + 8 * M } } } end
    local segs = p:collect(4 * LAT)
    assert.are.same({}, segs, "something was resent for duplicate reports")
    local i = b:info()
    assert.are.equal(0, i.fast_retrans)
    assert.are.equal(0, tonumber(i.total_retrans))
    assert.are.equal(cwnd, i.cwnd)
    -- and the connection finishes normally
    b.rcv_nxt = 10 * M
    b:ack()
    p:collect(2 * LAT)
    assert.are.equal(0, b:info().unacked)
    assert.is_true(b:info().cwnd >= cwnd, "the window was reduced")
    assert.are.equal(0, b:info().fast_retrans)
  end)

  it("still counts plain duplicate ACKs (no SACK blocks) toward fast retransmit", function()
    local b = ten_sent(23, 2)
    local M, p = b.mss, b.p
    for _ = 1, 3 do b:ack() end
    local r = assert(p:expect(2 * LAT), "no fast retransmit")
    assert.are.equal((b.base + 2 * M) % 4294967296, r.seq)
    assert.are.equal(1, b:info().fast_retrans)
  end)
end)

describe("liveness under loss", function()
  it("processes an ACK that arrives at a full receive window with SEQ beyond RCV.NXT", function()
    -- The peer sent data we dropped for lack of room, so its SND.NXT (the
    -- SEQ of its ACKs) is past our RCV.NXT while our window is zero.
    local PORT = 9
    local p = pkt.peer { seed = 24, latency_us = 100, config = function(cfg) cfg.tcp_rcvbuf = 4096 end }
    local s, sa = p:handshake(p:listen(PORT, 4), { sport = 3000, dport = PORT, seq = 100, mss = 1460 })
    -- fill its receive buffer (the application does not read)
    local seq = 101
    for _ = 1, 4 do
      p:send { sport = 3000, dport = PORT, seq = seq, ack = sa.seq + 1, flags = ".", win = 65535, data = string.rep("x", 1024) }
      seq = seq + 1024
    end
    local acks = p:collect(1000)
    assert.are.equal(0, acks[#acks].win, "the window did not close")
    -- it sends us something; our ACK comes with SEQ = RCV.NXT + 1000
    C.tl_send(s, "hello", 5, p:now())
    local d = assert(p:expect(1000))
    assert.are.equal("hello", d.data)
    p:send { sport = 3000, dport = PORT, seq = seq + 1000, ack = d.seq + 5, flags = ".", win = 65535 }
    p:collect(1000)
    local i = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, i)
    assert.are.equal(0, i.unacked, "the ACK was ignored")
  end)

  it("drops RTO backoff once new data is acknowledged, even without an RTT sample", function()
    local b = bulkpeer.new { seed = 25, latency_us = LAT, sack = true, total = 1460 * 14, recovery = "dupack" }
    local p = b.p
    b:fill()
    assert.are.equal(10, #p:collect(2 * LAT))
    b.rcv_nxt = 10 * 1460 -- an RTT sample, then four more segments
    b:ack()
    assert.are.equal(4, #p:collect(2 * LAT))
    local rto0 = b:info().rto_us
    assert.is_true(b:info().srtt_us > 0)
    -- three timeouts in a row: RTO doubles each time (RFC 6298 5.5)
    for k = 1, 3 do
      assert(p:expect(rto0 * 2 ^ k), "no retransmission " .. k)
    end
    assert.is_true(b:info().rto_us >= 8 * rto0)
    b.rcv_nxt = 14 * 1460
    b:ack()
    p:collect(2 * LAT)
    local i = b:info()
    assert.are.equal(0, i.unacked)
    assert.are.equal(rto0, i.rto_us, "a later loss would wait the backed-off RTO")
    assert.are.equal(0, i.backoff)
  end)

  it("finishes a two-way 1 MB echo under 10% loss within 60 s of virtual time for 30 seeds", function()
    -- seeds that stalled for minutes before the two fixes above are among them
    local seeds = { 11, 23, 48, 49, 52, 58 }
    for sd = 70, 93 do seeds[#seeds + 1] = sd end
    local data = tcpsim.bytes(1024 * 1024, 7)
    for _, seed in ipairs(seeds) do
      local imp = { loss = 0.1, reorder = 0.05, duplicate = 0.01, jitter_us = 1000 }
      local w = tcpsim.pair { seed = seed, latency_us = 2000, impair_a = imp, impair_b = imp }
      local c, s = w:establish(7)
      local done, got = w:echo(c, s, data, 60e6)
      assert(done, ("seed %d: echo stalled at %d of %d bytes"):format(seed, #got, #data))
      assert.is_true(got == data, ("seed %d: echoed bytes differ"):format(seed))
    end
  end)
end)
