-- The TCP engine against a scripted peer (spec/helpers/tcppkt.lua): each
-- test sends exact segments and checks the exact answers the RFCs require.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, LAT = 7, 5000, 100   -- LAT: the sim's one-way latency (us)

local function peer(seed, config)
  return pkt.peer { seed = seed, latency_us = LAT, config = config }
end

local function listen(p, backlog) return p:listen(PORT, backlog) end

local state = pkt.state

local info = pkt.info

local function counter(p, name) return core.stats(p.st)[name] end

-- Peer-initiated handshake; returns the accepted socket and the stack's ISS.
local function establish(p, l, sport, syn_extra, win)
  local syn = { sport = sport, dport = PORT, seq = ISS, win = win or 65535, mss = 1460 }
  for k, v in pairs(syn_extra or {}) do syn[k] = v end
  local s, sa = p:handshake(l, syn)
  return s, sa.seq
end

-- A peer (seed, config as for peer) with a connection open from its port
-- sport: returns the peer, the accepted socket and the stack's ISS.
local function connected(seed, sport, config)
  local p = peer(seed, config)
  local s, iss = establish(p, listen(p), sport)
  return p, s, iss
end

local function send_data(s, p, str) return tonumber(C.tl_send(s, str, #str, p:now())) end

describe("tcp vs scripted peer: closed ports (RFC 9293 3.10.7.1)", function()
  it("answers a SYN with RST,ACK <SEQ=0><ACK=SEG.SEQ+1> and never answers a RST", function()
    local p = peer(1)
    p:send { sport = 1000, dport = 99, seq = 77, flags = "S" }
    local r = assert(p:expect(10000))
    assert.are.equal("R.", r.flags)
    assert.are.equal(0, r.seq)
    assert.are.equal(78, r.ack)
    p:send { sport = 1000, dport = 99, seq = 77, ack = 1234, flags = "." }
    r = assert(p:expect(10000))
    assert.are.equal("R", r.flags)
    assert.are.equal(1234, r.seq)
    p:send { sport = 1000, dport = 99, seq = 77, flags = "R" }
    assert.is_nil(p:expect(100000))
    assert.are.equal(3, counter(p, "drop_tcp_no_socket"))
  end)
end)

describe("tcp vs scripted peer: passive open", function()
  it("advertises MSS = MTU - 40 and uses 536 when the SYN has none (RFC 9293 3.7.1)", function()
    local p = peer(2)
    local s, sa = p:handshake(listen(p), { sport = 1001, dport = PORT, seq = ISS }) -- no MSS option
    assert.are.equal(1460, sa.mss)
    assert.are.equal(536, info(s).snd_mss)
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    send_data(s, p, string.rep("x", 2000))
    local segs = p:collect(10000)
    assert.are.equal(4, #segs)
    for _, seg in ipairs(segs) do assert.is_true(#seg.data <= 536) end
  end)

  it("drops SYNs beyond the backlog and counts them", function()
    local p = peer(3)
    -- Without SYN cookies (sim/tcp_syncookie_spec.lua has them).
    assert.are.equal(0, C.tl_setopt(listen(p, 2), C.TL_OPT_SYNCOOKIES, 0))
    for i = 1, 3 do p:send { sport = 2000 + i, dport = PORT, seq = ISS, flags = "S" } end
    local got = p:collect(20000)
    assert.are.equal(2, #got)
    assert.are.equal(1, counter(p, "drop_tcp_backlog"))
  end)

  it("retransmits the SYN-ACK when the SYN is retransmitted", function()
    local p = peer(4)
    listen(p)
    p:send { sport = 1002, dport = PORT, seq = ISS, flags = "S" }
    local a = assert(p:expect(10000))
    p:send { sport = 1002, dport = PORT, seq = ISS, flags = "S" }
    local b = assert(p:expect(10000))
    assert.are.equal("S.", b.flags)
    assert.are.equal(a.seq, b.seq)
  end)

  it("resets queued connections when the listener closes", function()
    local p = peer(5)
    local l = listen(p)
    p:send { sport = 1003, dport = PORT, seq = ISS, flags = "S" }
    local sa = assert(p:expect(10000))
    p:send { sport = 1003, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    p:collect(1000)
    C.tl_close(l, p:now())
    local r = assert(p:expect(10000))
    assert.are.equal("R", r.flags)
    assert.are.equal(sa.seq + 1, r.seq)
  end)
end)

describe("tcp vs scripted peer: RST and SYN in synchronized states (RFC 5961)", function()
  it("accepts an exact RST and reports the reset", function()
    local p, s = connected(6, 1010)
    p:send { sport = 1010, dport = PORT, seq = ISS + 1, flags = "R" }
    p:collect(1000)
    assert.are.equal("CLOSED", state(s))
    assert.are.equal(C.TL_ERESET, C.tl_sock_error(s))
    local buf = ffi.new("uint8_t[8]")
    assert.are.equal(C.TL_ERESET, C.tl_recv(s, buf, 8, p:now()))
  end)

  -- Bring a connection to each synchronized state, then reset it with an
  -- exact RST (SEQ = RCV.NXT): RFC 9293 3.10.7.4 second, per state.
  local to_state = {
    ["FIN-WAIT-1"] = function(p, s, iss, sport)
      C.tl_shutdown(s, p:now()); p:collect(1000); return ISS + 1
    end,
    ["FIN-WAIT-2"] = function(p, s, iss, sport)
      C.tl_shutdown(s, p:now()); p:collect(1000)
      p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = "." }
      p:collect(1000); return ISS + 1
    end,
    ["CLOSE-WAIT"] = function(p, s, iss, sport)
      p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "F." }
      p:collect(1000); return ISS + 2
    end,
    ["CLOSING"] = function(p, s, iss, sport)
      C.tl_shutdown(s, p:now()); p:collect(1000)
      p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "F." }
      p:collect(1000); return ISS + 2
    end,
    ["LAST-ACK"] = function(p, s, iss, sport)
      p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "F." }
      p:collect(1000)
      C.tl_shutdown(s, p:now()); p:collect(1000); return ISS + 2
    end,
  }
  for _, name in ipairs({ "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK" }) do
    it("goes from " .. name .. " to CLOSED on an exact RST", function()
      local p, s, iss = connected(30, 1060)
      local rcv_nxt = to_state[name](p, s, iss, 1060)
      assert.are.equal(name, state(s))
      p:send { sport = 1060, dport = PORT, seq = rcv_nxt, flags = "R" }
      p:collect(1000)
      assert.are.equal("CLOSED", state(s))
      assert.are.equal(C.TL_ERESET, C.tl_sock_error(s))
      assert.are.equal(0, C.tl_tcp_conn_count(p.st))
    end)
  end

  it("refuses an active open reset in SYN-RECEIVED (RFC 9293 3.10.7.4)", function()
    local p = peer(31)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 40010, p:now(), err)
    assert(p:expect(1000))
    p:send { sport = 80, dport = 40010, seq = 300, flags = "S" }
    assert(p:expect(1000))
    assert.are.equal("SYN-RECEIVED", state(s))
    p:send { sport = 80, dport = 40010, seq = 301, flags = "R" }
    p:collect(1000)
    assert.are.equal(C.TL_EREFUSED, C.tl_sock_error(s))
  end)

  it("challenges an in-window inexact RST and a SYN (RFC 5961 3.2, 4.2)", function()
    local p, s, iss = connected(7, 1011)
    p:send { sport = 1011, dport = PORT, seq = ISS + 100, flags = "R" }
    local a = assert(p:expect(10000), "no challenge ACK for the RST")
    assert.are.equal(".", a.flags)
    assert.are.equal(ISS + 1, a.ack)
    assert.are.equal(iss + 1, a.seq)
    p:send { sport = 1011, dport = PORT, seq = ISS + 50, flags = "S" }
    a = assert(p:expect(10000), "no challenge ACK for the SYN")
    assert.are.equal(ISS + 1, a.ack)
    assert.are.equal("ESTABLISHED", state(s))
    assert.are.equal(2, counter(p, "tcp_challenge_ack"))
    assert.are.equal(2, info(s).challenge_acks)
  end)

  it("rate-limits challenge ACKs to about tcp_challenge_ack_per_s, randomized (RFC 5961 10)", function()
    local p, s = connected(8, 1015, function(cfg) cfg.tcp_challenge_ack_per_s = 4 end)
    for k = 1, 20 do p:send { sport = 1015, dport = PORT, seq = ISS + 100 + k, flags = "R" } end
    local sent = #p:collect(10000)
    assert.are.equal(sent, counter(p, "tcp_challenge_ack"))
    assert.are.equal(20 - sent, counter(p, "tcp_challenge_ack_limited"))
    assert.is_true(sent >= 2 and sent <= 5, "challenge ACKs in a second: " .. sent)
    -- a second later the budget is back
    p:collect(1e6)
    p:send { sport = 1015, dport = PORT, seq = ISS + 200, flags = "R" }
    assert(p:expect(10000), "no challenge ACK after the refill")
    assert.are.equal("ESTABLISHED", state(s))
  end)

  it("ACKs and drops an ACK for data never sent (RFC 5961 5.2)", function()
    local p, s, iss = connected(8, 1012)
    p:send { sport = 1012, dport = PORT, seq = ISS + 1, ack = iss + 1000, flags = ".", data = "abc" }
    local a = assert(p:expect(10000))
    assert.are.equal(ISS + 1, a.ack)
    assert.are.equal(0, tonumber(C.tl_readable(s)))
  end)

  it("ignores a RST in TIME-WAIT (RFC 1337)", function()
    local p, s, iss = connected(9, 1013)
    C.tl_shutdown(s, p:now())
    local fin = assert(p:expect(10000))
    assert.are.equal("F.", fin.flags)
    p:send { sport = 1013, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = "F." }
    local a = assert(p:expect(10000))
    assert.are.equal(ISS + 2, a.ack)
    assert.are.equal("TIME-WAIT", state(s))
    p:send { sport = 1013, dport = PORT, seq = ISS + 2, flags = "R" }
    p:collect(1000)
    assert.are.equal("TIME-WAIT", state(s))
    assert.are.equal(1, counter(p, "drop_tcp_rst_time_wait"))
  end)

  it("sends RST, not FIN, when closed with unread data (RFC 9293 3.10.4)", function()
    local p, s, iss = connected(10, 1014)
    p:send { sport = 1014, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "P.", data = "unread" }
    p:collect(1000)
    C.tl_close(s, p:now())
    local r = assert(p:expect(10000))
    assert.are.equal("R", r.flags)
    assert.are.equal(iss + 1, r.seq)
  end)
end)

describe("tcp vs scripted peer: receiving", function()
  it("delays a lone ACK by tcp_delack_us and ACKs every second segment at once", function()
    -- quick ACKs off: the first segments of a connection are ACKed at once
    -- (tcp_quickack_spec.lua); the delayed ACK is what is tested here
    local DELACK = 200000
    local p, s, iss = connected(11, 1020, function(cfg)
      cfg.tcp_quickacks = 0
      cfg.tcp_delack_us = DELACK
    end)
    local t0 = p:now()
    p:send { sport = 1020, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "P.", data = "one" }
    local a = assert(p:expect(1e6))
    local waited = p:now() - t0
    assert.is_true(waited >= DELACK and waited <= DELACK + 2 * LAT + 10, "ACK after " .. waited)
    assert.are.equal(ISS + 4, a.ack)
    local big = string.rep("y", 1460)
    p:send { sport = 1020, dport = PORT, seq = ISS + 4, ack = iss + 1, flags = ".", data = big }
    p:send { sport = 1020, dport = PORT, seq = ISS + 4 + 1460, ack = iss + 1, flags = ".", data = big }
    t0 = p:now()
    a = assert(p:expect(1e6))
    assert.is_true(p:now() - t0 <= 3 * LAT, "second full segment not ACKed at once")
    assert.are.equal(ISS + 4 + 2920, a.ack)
    assert.are.equal(3 + 2920, tonumber(C.tl_readable(s)))
  end)

  it("ACKs out-of-order data at once and again when the hole fills", function()
    local p, s, iss = connected(12, 1021)
    p:send { sport = 1021, dport = PORT, seq = ISS + 11, ack = iss + 1, flags = ".", data = "0123456789" }
    local a = assert(p:expect(2 * LAT + 10), "no immediate duplicate ACK")
    assert.are.equal(ISS + 1, a.ack)
    assert.are.equal(10, info(s).ooo_bytes)
    p:send { sport = 1021, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", data = "abcdefghij" }
    a = assert(p:expect(2 * LAT + 10), "no immediate ACK when the hole filled")
    assert.are.equal(ISS + 21, a.ack)
    local buf = ffi.new("uint8_t[64]")
    local n = C.tl_recv(s, buf, 64, p:now())
    assert.are.equal("abcdefghij0123456789", ffi.string(buf, n))
  end)

  it("bounds the out-of-order queue, and still takes in-order data when it is full", function()
    local M = C.TL_ASM_MAX
    local p, s, iss = connected(21, 1023, function(cfg) cfg.tcp_ooo_max_bytes = 10 * M + 500 end)
    -- one separate hole more than the range set holds (core/storage/assembler.h)
    for k = 1, M + 1 do
      p:send { sport = 1023, dport = PORT, seq = ISS + 1 + 20 * k, ack = iss + 1, flags = ".", data = "0123456789" }
    end
    p:collect(1000)
    assert.are.equal(10 * M, info(s).ooo_bytes)
    assert.are.equal(1, counter(p, "drop_tcp_ooo_overflow"))
    -- over the byte cap
    p:send { sport = 1023, dport = PORT, seq = ISS + 1 + 20 * (M + 2), ack = iss + 1, flags = ".", data = string.rep("z", 1000) }
    p:collect(1000)
    assert.are.equal(2, counter(p, "drop_tcp_ooo_overflow"))
    -- in order, touching no held range
    p:send { sport = 1023, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", data = "abcde" }
    local a = assert(p:expect(1000))
    assert.are.equal(ISS + 6, a.ack)
    assert.are.equal(5, tonumber(C.tl_readable(s)))
  end)

  it("takes a FIN that arrives beyond a hole once the hole fills", function()
    local p, s, iss = connected(13, 1022)
    p:send { sport = 1022, dport = PORT, seq = ISS + 4, ack = iss + 1, flags = "F.", data = "def" }
    p:collect(1000)
    assert.are.equal("ESTABLISHED", state(s))
    p:send { sport = 1022, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", data = "abc" }
    local a = assert(p:expect(1000))
    assert.are.equal(ISS + 8, a.ack)
    assert.are.equal("CLOSE-WAIT", state(s))
  end)
end)

describe("tcp vs scripted peer: sending", function()
  it("holds a second small segment while the first is unacknowledged (Nagle), unless NODELAY", function()
    local p, s, iss = connected(14, 1030)
    send_data(s, p, "a")
    local a = assert(p:expect(1000))
    assert.are.equal("a", a.data)
    send_data(s, p, "b")
    send_data(s, p, "c")
    assert.is_nil(p:expect(5000), "Nagle let a small segment out with data in flight")
    p:send { sport = 1030, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = ".", win = 65535 }
    a = assert(p:expect(1000))
    assert.are.equal("bc", a.data)
    p:send { sport = 1030, dport = PORT, seq = ISS + 1, ack = iss + 4, flags = ".", win = 65535 }
    p:collect(1000)
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    send_data(s, p, "d")
    send_data(s, p, "e")
    local segs = p:collect(5000)
    assert.are.equal(2, #segs)
  end)

  it("measures RTT and sets RTO by RFC 6298 2.2-2.3, then backs off and gives up", function()
    local p = peer(15, function(cfg)
      cfg.tcp_rto_min_us = 1
      cfg.tcp_rto_max_us = 3000000
      cfg.tcp_data_retries = 4
    end)
    local s, iss = establish(p, listen(p), 1031)
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    local function exchange(delay, seq)
      send_data(s, p, "z")
      assert(p:expect(1000))
      p:collect(delay)
      p:send { sport = 1031, dport = PORT, seq = ISS + 1, ack = seq + 1, flags = ".", win = 65535 }
      p:collect(LAT + 1)
    end
    -- The handshake gave the first sample (RFC 6298 2.2: the SYN-ACK
    -- timed to the ACK that completed it); each exchange then follows 2.3.
    local i = info(s)
    local srtt, var = i.srtt_us, i.rttvar_us
    assert.is_true(srtt >= 2 * LAT and srtt < 2 * LAT + 2000, "handshake sample " .. srtt)
    assert.are.equal(math.floor(srtt / 2), var)
    local function sample(r)
      var = math.floor((3 * var + math.abs(srtt - r)) / 4)
      srtt = math.floor((7 * srtt + r) / 8)
    end
    -- (each ACK comes back before the RTO the samples so far give)
    local R1, R2 = 2 * LAT + 500, 2 * LAT + 100
    exchange(500, iss + 1)
    sample(R1)
    i = info(s)
    assert.are.equal(srtt, i.srtt_us)
    assert.are.equal(var, i.rttvar_us)
    -- RTO = SRTT + max(G, 4 RTTVAR) with G = 1 ms, plus rto_min (1 us
    -- here) on the variance term (core/tcp/tcp_timer.c)
    local G = 1000 + 1
    assert.are.equal(srtt + math.max(G, 4 * var), i.rto_us)
    exchange(100, iss + 2)
    sample(R2)
    i = info(s)
    assert.are.equal(srtt, i.srtt_us)
    assert.are.equal(var, i.rttvar_us)
    assert.are.equal(srtt + math.max(G, 4 * var), i.rto_us)
    -- now no more ACKs: retransmissions at RTO, 2 RTO, ... capped at rto_max
    local rto = i.rto_us
    send_data(s, p, "q")
    local first = assert(p:expect(1000))
    local last = p:now()
    local gaps = {}
    for _ = 1, 4 do
      local r = assert(p:expect(10e6), "missing retransmission")
      assert.are.equal(first.seq, r.seq)
      gaps[#gaps + 1] = p:now() - last
      last = p:now()
    end
    for k, g in ipairs(gaps) do
      local want = math.min(rto * 2 ^ (k - 1), 3000000)
      assert.is_true(math.abs(g - want) <= 2, ("gap %d: %d, want %d"):format(k, g, want))
    end
    p:collect(10e6)
    assert.are.equal("CLOSED", state(s))
    assert.are.equal(C.TL_ETIMEOUT, C.tl_sock_error(s))
  end)

  it("probes a zero window with backoff and resumes when it opens (RFC 9293 3.8.6.1)", function()
    local p = peer(16)
    local s, iss = establish(p, listen(p), 1032, nil, 0)
    send_data(s, p, "hold")
    assert.is_nil(p:expect(100000), "sent into a zero window")
    local times = {}
    for _ = 1, 3 do
      local pr = assert(p:expect(20e6), "no window probe")
      times[#times + 1] = p:now()
      assert.are.equal(0, #pr.data)
      p:send { sport = 1032, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 0 }
    end
    assert.is_true(times[3] - times[2] > times[2] - times[1], "probe interval did not grow")
    assert.is_true(info(s).probes >= 3)
    p:send { sport = 1032, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 1000 }
    local d = assert(p:expect(100000))
    assert.are.equal("hold", d.data)
  end)

  it("sends one new segment on each of the first two duplicate ACKs (RFC 3042)", function()
    local p, s, iss = connected(27, 1034)
    C.tl_send(s, string.rep("l", 1460 * 14), 1460 * 14, p:now())
    assert.are.equal(10, #p:collect(1000))   -- the initial window (RFC 6928)
    for k = 1, 2 do
      p:send { sport = 1034, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 65535 }
      local seg = assert(p:expect(1000), "no limited transmit on duplicate " .. k)
      assert.are.equal(iss + 1 + 1460 * (9 + k), seg.seq)
    end
  end)

  it("fast-retransmits on the third duplicate ACK (RFC 5681 3.2)", function()
    local p, s, iss = connected(17, 1033)
    C.tl_setopt(s, C.TL_OPT_CONGESTION, 0)   -- Reno's numbers; CUBIC's are in tcp_fast_cc_spec
    send_data(s, p, string.rep("m", 1460 * 5))
    local segs = p:collect(1000)
    assert.are.equal(5, #segs)
    for _ = 1, 4 do   -- one new ACK, then three duplicates
      p:send { sport = 1033, dport = PORT, seq = ISS + 1, ack = iss + 1 + 1460, flags = ".", win = 65535 }
    end
    local r = assert(p:expect(1000), "no fast retransmit")
    assert.are.equal(iss + 1 + 1460, r.seq)
    local i = info(s)
    assert.are.equal(1, i.fast_retrans)
    -- RFC 5681 3.2 step 2: ssthresh = max(FlightSize/2, 2*SMSS)
    assert.are.equal(math.floor(1460 * 4 / 2), i.ssthresh)
    -- RFC 6937 3 (PRR, also without SACK) replaces RFC 5681's inflation to
    -- ssthresh + 3 SMSS: pipe is the flight less the three duplicates, one
    -- segment, below ssthresh; PRR-SSRB allows up to the delivered segment
    -- + 1 SMSS more, so cwnd = pipe + (ssthresh - pipe) = ssthresh.
    local pipe = 1460 * 4 - 3 * 1460
    assert.is_true(pipe < i.ssthresh)
    assert.are.equal(i.ssthresh, i.cwnd)
  end)
end)

describe("tcp vs scripted peer: NewReno (RFC 6582)", function()
  for _, cc in ipairs({ { 0, "reno" }, { 1, "newreno" } }) do
    it(cc[2] .. ": a partial ACK in recovery " .. (cc[1] == 1 and "resends the next hole at once" or "ends recovery"), function()
      local p, s, iss = connected(25, 1070)
      assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_CONGESTION, cc[1]))
      assert.are.equal(cc[2], ffi.string(C.tl_tcp_cc_name(s)))
      C.tl_send(s, string.rep("n", 1460 * 5), 1460 * 5, p:now())
      assert.are.equal(5, #p:collect(1000))
      for _ = 1, 3 do
        p:send { sport = 1070, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 65535 }
      end
      local r = assert(p:expect(1000), "no fast retransmit")
      assert.are.equal(iss + 1, r.seq)
      p:send { sport = 1070, dport = PORT, seq = ISS + 1, ack = iss + 1 + 1460, flags = ".", win = 65535 }
      local next_hole = p:expect(1000)
      if cc[1] == 1 then
        assert(next_hole, "NewReno did not resend after a partial ACK")
        assert.are.equal(iss + 1 + 1460, next_hole.seq)
        assert.are.equal(1, info(s).fast_retrans)
      else
        assert.is_true(next_hole == nil or next_hole.seq ~= iss + 1 + 1460)
      end
    end)
  end
end)

describe("tcp vs scripted peer: timers", function()
  it("retransmits the SYN-ACK tcp_synack_retries times, then forgets the half-open connection", function()
    local p = peer(22, function(cfg) cfg.tcp_synack_retries = 2 end)
    listen(p)
    p:send { sport = 1040, dport = PORT, seq = ISS, flags = "S" }
    local n = 0
    while p:expect(30e6) do n = n + 1 end
    assert.are.equal(3, n)   -- the first SYN-ACK and two retries
    assert.are.equal(1, C.tl_tcp_sock_count(p.st))
  end)

  it("lets a newer SYN end TIME-WAIT and open a new connection (RFC 6191)", function()
    local p = peer(26, function(cfg) cfg.tcp_msl_us = 30e6 end)
    local l = listen(p)
    local s, iss = establish(p, l, 1042)
    C.tl_close(s, p:now())
    assert(p:expect(1000))   -- our FIN
    p:send { sport = 1042, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = "F." }
    assert(p:expect(1000))   -- our ACK: TIME-WAIT now
    assert.are.equal(1, C.tl_tcp_conn_count(p.st))
    -- an old duplicate SYN (not beyond RCV.NXT) only gets a challenge ACK
    p:send { sport = 1042, dport = PORT, seq = ISS, flags = "S" }
    local a = assert(p:expect(1000))
    assert.are.equal(".", a.flags)
    -- a new incarnation with a higher sequence number is accepted
    p:send { sport = 1042, dport = PORT, seq = ISS + 100000, flags = "S", mss = 1460 }
    local sa = assert(p:expect(1000))
    assert.are.equal("S.", sa.flags)
    assert.are.equal(ISS + 100001, sa.ack)
    p:send { sport = 1042, dport = PORT, seq = ISS + 100001, ack = sa.seq + 1, flags = "." }
    p:collect(1000)
    assert.is_true(C.tl_accept(l) ~= nil, "nothing to accept")
    assert.are.equal(1, core.stats(p.st).tcp_time_wait_reused)
  end)

  it("restarts TIME-WAIT when the peer's FIN comes again (RFC 9293 3.10.7.4)", function()
    local p, s, iss = connected(23, 1041, function(cfg) cfg.tcp_msl_us = 1e6 end)
    C.tl_shutdown(s, p:now())
    assert(p:expect(1000))
    p:send { sport = 1041, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = "F." }
    assert(p:expect(1000))
    assert.are.equal("TIME-WAIT", state(s))
    p:collect(1.5e6)
    assert.are.equal("TIME-WAIT", state(s))
    p:send { sport = 1041, dport = PORT, seq = ISS + 1, ack = iss + 2, flags = "F." }
    local a = assert(p:expect(1000), "retransmitted FIN not ACKed")
    assert.are.equal(ISS + 2, a.ack)
    p:collect(1.5e6)
    assert.are.equal("TIME-WAIT", state(s), "2 MSL did not restart")
    p:collect(1e6)
    assert.are.equal("CLOSED", state(s))
  end)
end)

describe("tcp vs scripted peer: hostile input", function()
  it("survives 20000 random segments with valid checksums and stays usable", function()
    local p = peer(24)
    local l = listen(p)
    local s, iss = establish(p, l, 1050)
    local seed = 12345
    local function rnd(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    local flagsets = { "S", "R", "F", ".", "P.", "F.", "R.", "S.", "SF", "SR", "FPU.", "U." }
    for _ = 1, 20000 do
      local t = {
        sport = ({ 1050, 1051, 1052 })[rnd(3) + 1], dport = ({ PORT, PORT, 9 })[rnd(3) + 1],
        seq = ({ ISS + 1, ISS + 1 + rnd(100000), rnd(2147483647) * 2 })[rnd(3) + 1],
        ack = ({ iss + 1, iss + rnd(10), rnd(2147483647) * 2 })[rnd(3) + 1],
        flags = flagsets[rnd(#flagsets) + 1], win = rnd(65536), urg = rnd(65536),
        data = string.rep("h", rnd(3) == 0 and rnd(1400) or 0),
      }
      if rnd(4) == 0 then t.mss = rnd(65536) end
      if rnd(4) == 0 then t.wscale = rnd(20) end
      if rnd(4) == 0 then t.ts = { rnd(2147483647), rnd(2147483647) } end
      if rnd(8) == 0 then t.opts = string.char(rnd(256), rnd(256), rnd(256)) end
      p:send(t)
      if rnd(50) == 0 then p:collect(rnd(3000000)) end
    end
    p:collect(2e6)
    -- the stack still serves new connections
    local s2 = establish(p, l, 2222)
    assert.are.equal("ESTABLISHED", state(s2))
    C.tl_close(s, p:now())
    C.tl_close(s2, p:now())
  end)
end)

describe("tcp vs scripted peer: active open", function()
  it("retries the SYN tcp_syn_retries times with doubling RTO, then fails with ETIMEOUT", function()
    local p = peer(18, function(cfg) cfg.tcp_syn_retries = 3 end)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 0, p:now(), err)
    local syns, times = 0, {}
    while true do
      local r = p:expect(30e6)
      if not r then break end
      assert.are.equal("S", r.flags)
      syns = syns + 1
      times[syns] = p:now()
    end
    assert.are.equal(4, syns)
    assert.are.equal(1e6, times[2] - times[1])
    assert.are.equal(2e6, times[3] - times[2])
    assert.are.equal(4e6, times[4] - times[3])
    assert.are.equal(C.TL_ETIMEOUT, C.tl_sock_error(s))
    assert.are.equal("CLOSED", state(s))
  end)

  it("reports a refused connection (RST,ACK to the SYN)", function()
    local p = peer(19)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 40000, p:now(), err)
    local syn = assert(p:expect(1000))
    p:send { sport = 80, dport = 40000, seq = 0, ack = syn.seq + 1, flags = "R." }
    p:collect(1000)
    assert.are.equal(C.TL_EREFUSED, C.tl_sock_error(s))
  end)

  it("passes through SYN-RECEIVED on a simultaneous open (RFC 9293 3.5 figure 7)", function()
    local p = peer(20)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 40001, p:now(), err)
    local syn = assert(p:expect(1000))
    p:send { sport = 80, dport = 40001, seq = 900, flags = "S", mss = 1000 }
    local sa = assert(p:expect(1000))
    assert.are.equal("S.", sa.flags)
    assert.are.equal(syn.seq, sa.seq)
    assert.are.equal(901, sa.ack)
    assert.are.equal("SYN-RECEIVED", state(s))
    p:send { sport = 80, dport = 40001, seq = 900, ack = syn.seq + 1, flags = "S.", mss = 1000 }
    p:collect(1000)
    assert.are.equal("ESTABLISHED", state(s))
    assert.are.equal(1000, info(s).snd_mss)
  end)
end)
