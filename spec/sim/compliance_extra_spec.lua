-- RFC behaviours that docs/rfc-compliance.md lists and that no other spec
-- pinned down: each test drives the stack with a scripted peer
-- (spec/helpers/tcppkt.lua) on the sim's virtual clock and checks what a
-- user would see on the wire or in tl_sock_info.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS = 7, 9000

local info = pkt.info

local function listen(p, rcvbuf)
  local l = p:listen(PORT)
  if rcvbuf then assert.are.equal(0, C.tl_setopt(l, C.TL_OPT_RCVBUF, rcvbuf)) end
  return l
end

-- Peer-initiated handshake. syn: extra SYN fields (mss, ts, wscale, win...).
-- Returns the accepted socket, the stack's ISS and the SYN-ACK.
local function establish(p, l, sport, syn)
  local t = { sport = sport, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460 }
  for k, v in pairs(syn or {}) do t[k] = v end
  p:send(t)
  local sa = assert(p:expect(100000), "no SYN-ACK")
  assert.are.equal("S.", sa.flags)
  local ack = { sport = sport, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = t.win }
  if t.ts and sa.ts then ack.ts = { t.ts[1] + 1, sa.ts[1] } end
  p:send(ack)
  p:collect(1000)
  local s = C.tl_accept(l)
  assert(s ~= nil, "nothing to accept")
  return s, sa.seq, sa
end

local function send(s, p, str) return tonumber(C.tl_send(s, str, #str, p:now())) end

local function data_segs(segs)
  local out = {}
  for _, r in ipairs(segs) do if #r.data > 0 then out[#out + 1] = r end end
  return out
end

describe("compliance: congestion control (RFC 5681, RFC 6928)", function()
  it("starts with IW = min(10*MSS, max(2*MSS, 14600)) (RFC 6928 2)", function()
    local p = pkt.peer { seed = 301 }
    local s = establish(p, listen(p), 3001)
    assert.are.equal(1460, info(s).snd_mss)
    assert.are.equal(math.min(10 * 1460, math.max(2 * 1460, 14600)), info(s).cwnd)
    -- a jumbo MSS: the 14600-byte term gives way to 2*MSS
    local j = pkt.peer { seed = 302, config = function(cfg) cfg.mtu = 9000 end }
    local sj = establish(j, listen(j), 3002, { mss = 8960 })
    assert.are.equal(8960, info(sj).snd_mss)
    assert.are.equal(math.min(10 * 8960, math.max(2 * 8960, 14600)), info(sj).cwnd)
  end)

  it("grows cwnd in slow start by the bytes acked, capped at L*SMSS per ACK (RFC 5681 3.1 eq. 2, RFC 3465 2.2)",
    function()
      local p = pkt.peer { seed = 303 }
      local s, iss = establish(p, listen(p), 3003)
      assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_CONGESTION, 0)) -- Reno: slow start is the shared code
      local iw = info(s).cwnd
      assert.are.equal(10 * 1460, send(s, p, string.rep("s", 10 * 1460)))
      assert.are.equal(10, #data_segs(p:collect(1000)))
      -- half a segment acked: byte counting adds exactly those bytes
      local una = iss + 1 + 730
      p:send { sport = 3003, dport = PORT, seq = ISS + 1, ack = una, flags = ".", win = 65535 }
      p:collect(1000)
      assert.are.equal(iw + 730, info(s).cwnd)
      -- one ACK for the other 9.5 segments: at most L = 2 SMSS (L = 1 is RFC 5681's own rule)
      p:send { sport = 3003, dport = PORT, seq = ISS + 1, ack = iss + 1 + 10 * 1460, flags = ".", win = 65535 }
      p:collect(1000)
      local grew = info(s).cwnd - (iw + 730)
      assert.is_true(grew == 1460 or grew == 2920, "slow start grew cwnd by " .. grew .. " on one ACK")
    end)

  it("after a timeout sets ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = one segment (RFC 5681 3.1 eq. 4)", function()
    local p = pkt.peer { seed = 304 }
    local s, iss = establish(p, listen(p), 3004)
    assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_CONGESTION, 0)) -- Reno (CUBIC uses beta = 0.7, RFC 9438)
    send(s, p, string.rep("t", 5 * 1460))
    assert.are.equal(5, #data_segs(p:collect(1000)))
    local r = assert(p:expect(5e6), "no retransmission")
    assert.are.equal(iss + 1, r.seq)
    local i = info(s)
    assert.are.equal(math.max(math.floor(5 * 1460 / 2), 2 * 1460), i.ssthresh)
    assert.are.equal(1460, i.cwnd)
    assert.are.equal(1, tonumber(i.total_retrans))
  end)
end)

describe("compliance: congestion avoidance (RFC 5681 3.1 eq. 3, RFC 3465 2.1)", function()
  it("adds one SMSS per cwnd of bytes acknowledged once cwnd >= ssthresh", function()
    local p = pkt.peer { seed = 317 }
    local s, iss = establish(p, listen(p), 3017)
    assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_CONGESTION, 0)) -- Reno
    local una = iss + 1
    local function ack(n)
      una = una + n
      p:send { sport = 3017, dport = PORT, seq = ISS + 1, ack = una, flags = ".", win = 65535 }
      p:collect(1000)
    end
    -- a timeout sets ssthresh = 3650 and cwnd = 1460
    send(s, p, string.rep("c", 5 * 1460))
    p:collect(1000)
    assert(p:expect(5e6), "no retransmission")
    assert.are.equal(3650, info(s).ssthresh)
    ack(5 * 1460)                              -- slow start: 2920
    send(s, p, string.rep("c", 1460))
    assert.are.equal(1, #data_segs(p:collect(1000)))
    ack(1460)                                  -- slow start: 4380, now above ssthresh
    local cwnd = info(s).cwnd
    assert.are.equal(4380, cwnd)
    send(s, p, string.rep("c", 3 * 1460))
    assert.are.equal(3, #data_segs(p:collect(1000)))
    ack(1460)
    assert.are.equal(cwnd, info(s).cwnd, "grew by a segment's ACK in congestion avoidance")
    ack(2 * 1460)                              -- a whole cwnd acknowledged
    assert.are.equal(cwnd + 1460, info(s).cwnd)
  end)
end)

describe("compliance: RTO (RFC 6298)", function()
  it("waits the initial 1 s RTO for the SYN, then uses 3 s once established if it was retransmitted (RFC 6298 2.1, 5.7)", function()
    local p = pkt.peer { seed = 305 }
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip(p.peer_addr), 80, 0, p:now(), err)
    assert(s ~= nil)
    local syn = assert(p:expect(1000))
    local t0 = p:now()
    local again = assert(p:expect(5e6), "SYN not retransmitted")
    assert.are.equal(syn.seq, again.seq)
    -- RFC 6298 2.1: the first retransmission waits the initial RTO (1 s)
    local rto0 = tonumber(C.tl_stack_config(p.st).tcp_rto_initial_us)
    assert.are.equal(1000000, rto0)
    assert.is_true(math.abs(p:now() - t0 - rto0) <= 2, "SYN retransmitted after " .. (p:now() - t0) .. " us")
    p:send { sport = 80, dport = syn.sport, seq = 777, ack = syn.seq + 1, flags = "S.", win = 65535, mss = 1460 }
    local a = assert(p:expect(1000))
    assert.are.equal(".", a.flags)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
    local i = info(s)
    assert.are.equal(0, i.srtt_us) -- Karn: no sample from the retransmitted SYN
    assert.are.equal(3000000, i.rto_us)
  end)
end)

describe("compliance: MSS (RFC 9293 3.7.1, RFC 6691)", function()
  it("leaves room for the timestamp option in every segment it sends", function()
    local p = pkt.peer { seed = 306 }
    local s, iss = establish(p, listen(p), 3006, { ts = { 1000, 0 } })
    assert.are.equal(1460 - 12, info(s).snd_mss)
    send(s, p, string.rep("m", 3000))
    local segs = data_segs(p:collect(1000))
    assert.is_true(#segs >= 2)
    for _, r in ipairs(segs) do
      assert.is_not_nil(r.ts, "segment without the timestamp option")
      assert.is_true(#r.data <= 1448, "segment of " .. #r.data .. " bytes")
      assert.is_true(r.hdrlen - 20 + #r.data <= 1460, "options plus data exceed the peer's MSS")
    end
    assert.are.equal(iss + 1, segs[1].seq)
  end)
end)

describe("compliance: ACK validation (RFC 5961 5.2)", function()
  it("drops a segment whose ACK is older than SND.UNA - MAX.SND.WND and sends a challenge ACK", function()
    local p = pkt.peer { seed = 307 }
    local s, iss = establish(p, listen(p), 3007)
    local old = (iss + 1 - 70000) % 2 ^ 32
    p:send { sport = 3007, dport = PORT, seq = ISS + 1, ack = old, flags = "P.", win = 65535, data = "evil" }
    local r = assert(p:expect(1000), "no challenge ACK")
    assert.are.equal(".", r.flags)
    assert.are.equal(ISS + 1, r.ack) -- the text was not taken
    assert.are.equal(0, tonumber(C.tl_readable(s)))
    local st = core.stats(p.st)
    assert.are.equal(1, st.drop_tcp_old_ack)
    assert.are.equal(1, st.tcp_challenge_ack)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
  end)
end)

describe("compliance: silly window syndrome (RFC 9293 3.8.6.2)", function()
  it("sender: holds back a short segment that neither empties the queue nor fills half the largest window (3.8.6.2.1)",
    function()
      local p = pkt.peer { seed = 308 }
      local s, iss = establish(p, listen(p), 3008, { win = 4000 })
      C.tl_setopt(s, C.TL_OPT_NODELAY, 1) -- Nagle out of the way: SWS alone decides
      send(s, p, string.rep("w", 10000))
      local segs = data_segs(p:collect(100000))
      assert.are.equal(2, #segs, "the 1080 bytes left in the window went out")
      assert.are.equal(1460, #segs[1].data)
      assert.are.equal(1460, #segs[2].data)
      -- the window reopens: two more full segments, again no runt
      p:send { sport = 3008, dport = PORT, seq = ISS + 1, ack = iss + 1 + 2920, flags = ".", win = 4000 }
      segs = data_segs(p:collect(100000))
      assert.are.equal(2, #segs)
      assert.are.equal(iss + 1 + 2920, segs[1].seq)
    end)

  it("sender: uses a window too small to be worth it once the persist timer runs out (3.8.6.2.1 override)", function()
    local p = pkt.peer { seed = 313 }
    local s, iss = establish(p, listen(p), 3013, { win = 4000 })
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    send(s, p, string.rep("o", 10000))
    assert.are.equal(2, #data_segs(p:collect(100000)))
    -- everything acked, but only 1000 bytes of window: less than half of 4000
    p:send { sport = 3013, dport = PORT, seq = ISS + 1, ack = iss + 1 + 2920, flags = ".", win = 1000 }
    assert.is_nil(p:expect(100000), "sent into a silly window at once")
    local r = assert(p:expect(5e6), "the small window was never used")
    assert.are.equal(iss + 1 + 2920, r.seq)
    assert.are.equal(1000, #r.data)
  end)

  it("receiver: keeps the window shut until it can open by min(RCV.BUFF/2, MSS) (3.8.6.2.2)", function()
    local p = pkt.peer { seed = 309 }
    local l = listen(p, 4000)
    local s, iss, sa = establish(p, l, 3009)
    assert.are.equal(4000, sa.win)
    local seq = ISS + 1
    for _, n in ipairs({ 1460, 1460, 1080 }) do
      p:send { sport = 3009, dport = PORT, seq = seq, ack = iss + 1, flags = ".", win = 65535,
        data = string.rep("r", n) }
      seq = seq + n
    end
    local acks = p:collect(500000)
    local last = assert(acks[#acks], "data not acknowledged")
    assert.are.equal(seq, last.ack)
    assert.are.equal(0, last.win)
    local buf = ffi.new("uint8_t[4000]")
    -- 100 bytes free: less than min(4000/2, 1460), so no update and a probe sees 0
    assert.are.equal(100, tonumber(C.tl_recv(s, buf, 100, p:now())))
    assert.is_nil(p:expect(1000), "a window update for 100 bytes")
    p:send { sport = 3009, dport = PORT, seq = seq - 1, ack = iss + 1, flags = ".", win = 65535 }
    local r = assert(p:expect(1000), "zero-window probe not answered")
    assert.are.equal(0, r.win)
    -- 1600 bytes free: the window opens, with an update the sender need not probe for
    assert.are.equal(1500, tonumber(C.tl_recv(s, buf, 1500, p:now())))
    r = assert(p:expect(1000), "no window update")
    assert.are.equal(seq, r.ack)
    assert.are.equal(1600, r.win)
  end)
end)

describe("compliance: LISTEN (RFC 9293 3.10.7.2)", function()
  it("ignores a RST, answers an ACK with <SEQ=SEG.ACK><CTL=RST>, drops anything else without SYN", function()
    local p = pkt.peer { seed = 310 }
    listen(p)
    p:send { sport = 3010, dport = PORT, seq = 1, flags = "R" }
    assert.is_nil(p:expect(1000), "answered a RST")
    p:send { sport = 3010, dport = PORT, seq = 1, ack = 4242, flags = "." }
    local r = assert(p:expect(1000), "no RST for an ACK")
    assert.are.equal("R", r.flags)
    assert.are.equal(4242, r.seq)
    p:send { sport = 3010, dport = PORT, seq = 1, flags = "P", data = "x" }
    assert.is_nil(p:expect(1000), "answered a segment without SYN, ACK or RST")
    local st = core.stats(p.st)
    assert.are.equal(1, st.drop_tcp_listen_ack)
    assert.are.equal(1, st.drop_tcp_listen_other)
    assert.are.equal(0, tonumber(C.tl_tcp_conn_count(p.st)))
  end)
end)

describe("compliance: window scale (RFC 7323 2.2, 2.3)", function()
  it("offers the smallest shift that covers the receive buffer and scales every window after the SYN", function()
    local p = pkt.peer { seed = 311 }
    local s, iss, sa = establish(p, listen(p), 3011, { wscale = 7 })
    local rcvbuf = C.tl_stack_config(p.st).tcp_rcvbuf
    -- the buffer may grow by auto-tuning up to tcp_rcvbuf_max: the shift covers that
    local cover = math.max(rcvbuf, C.tl_stack_config(p.st).tcp_rcvbuf_max)
    local want = 0
    while want < 14 and 65535 * 2 ^ want < cover do want = want + 1 end
    assert.are.equal(want, sa.wscale)
    p:send { sport = 3011, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "P.", win = 100, data = "x" }
    local r
    for _, a in ipairs(p:collect(500000)) do if a.ack == ISS + 2 then r = a end end
    assert(r, "data not acknowledged")
    assert.are.equal(math.floor((rcvbuf - 1) / 2 ^ want), r.win)
    -- the peer's window of 100 is 100 << 7 bytes to us
    assert.are.equal(100 * 128, info(s).snd_wnd)
  end)
end)

describe("compliance: send window update (RFC 9293 3.10.7.4 fifth)", function()
  it("takes the window only from a segment not older than the last one used (SND.WL1, SND.WL2)", function()
    local p = pkt.peer { seed = 312 }
    local s, iss = establish(p, listen(p), 3012)
    p:send { sport = 3012, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "P.", win = 1000, data = "ab" }
    p:collect(1000)
    assert.are.equal(1000, info(s).snd_wnd)
    p:send { sport = 3012, dport = PORT, seq = ISS + 3, ack = iss + 1, flags = "P.", win = 2000, data = "cd" }
    p:collect(1000)
    assert.are.equal(2000, info(s).snd_wnd)
    assert.are.equal(ISS + 3, info(s).snd_wl1)
    -- a late copy starting before SND.WL1 (acceptable: it ends past RCV.NXT)
    p:send { sport = 3012, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "P.", win = 50, data = "abcdef" }
    p:collect(300000)
    assert.are.equal(2000, info(s).snd_wnd)
    assert.are.equal(6, tonumber(C.tl_readable(s))) -- its new bytes were still taken
  end)
end)

describe("compliance: segments dropped without an answer or answered at a bounded rate", function()
  it("rate-limits ACKs for empty unacceptable segments, never for ones with data (as Linux tcp_oow_rate_limited)",
    function()
      local p = pkt.peer { seed = 314 }
      local _, iss = establish(p, listen(p), 3014)
      local far = ISS + 1 + 1000000 -- beyond any window we offer
      p:send { sport = 3014, dport = PORT, seq = far, ack = iss + 1, flags = "." }
      local r = assert(p:expect(1000), "first unacceptable segment not answered")
      assert.are.equal(ISS + 1, r.ack)
      p:send { sport = 3014, dport = PORT, seq = far, ack = iss + 1, flags = "." }
      assert.is_nil(p:expect(1000), "second empty one answered within the limit")
      p:send { sport = 3014, dport = PORT, seq = far, ack = iss + 1, flags = "P.", data = "late" }
      assert(p:expect(1000), "an unacceptable segment with data went unanswered")
      p:collect(500000)
      p:send { sport = 3014, dport = PORT, seq = far, ack = iss + 1, flags = "." }
      assert(p:expect(1000), "not answered again after the limit's interval")
      assert.are.equal(1, core.stats(p.st).tcp_oow_ack_limited)
    end)

  it("answers a bad ACK in SYN-RECEIVED with <SEQ=SEG.ACK><CTL=RST> and keeps the half-open connection", function()
    local p = pkt.peer { seed = 315 }
    local l = listen(p)
    p:send { sport = 3015, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460 }
    local sa = assert(p:expect(1000))
    p:send { sport = 3015, dport = PORT, seq = ISS + 1, ack = sa.seq + 5, flags = ".", win = 65535 }
    local r = assert(p:expect(1000), "no RST")
    assert.are.equal("R", r.flags)
    assert.are.equal(sa.seq + 5, r.seq)
    assert.are.equal(1, tonumber(C.tl_tcp_conn_count(p.st)))
    -- the right ACK still completes the handshake
    p:send { sport = 3015, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
    p:collect(1000)
    assert(C.tl_accept(l) ~= nil, "handshake did not complete")
  end)

  it("drops a segment without ACK in a synchronized state, and one with port 0, silently", function()
    local p = pkt.peer { seed = 316 }
    local s = establish(p, listen(p), 3016)
    p:send { sport = 3016, dport = PORT, seq = ISS + 1, flags = "P", data = "noack" }
    assert.is_nil(p:expect(300000))
    assert.are.equal(0, tonumber(C.tl_readable(s)))
    p:send { sport = 0, dport = PORT, seq = 1, flags = "S", mss = 1460 }
    p:send { sport = 3016, dport = 0, seq = 1, flags = "S", mss = 1460 }
    assert.is_nil(p:expect(1000))
    local st = core.stats(p.st)
    assert.are.equal(1, st.drop_tcp_no_ack)
    assert.are.equal(2, st.drop_tcp_port_zero)
  end)
end)
