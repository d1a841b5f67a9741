-- TCP options and less common transitions against a scripted peer:
-- window scale, timestamps + PAWS, SACK blocks, SYN-RECEIVED exits, the
-- zero-window ACK allowance and the user timeout.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, LAT = 7, 7000, 100

local function peer(seed, config) return pkt.peer { seed = seed, latency_us = LAT, config = config } end

local function listen(p, backlog) return p:listen(PORT, backlog) end

local state = pkt.state

local info = pkt.info

local function establish(p, l, sport, opts)
  local syn = { sport = sport, dport = PORT, seq = ISS, mss = 1460 }
  for k, v in pairs(opts or {}) do syn[k] = v end
  return p:handshake(l, syn)
end

describe("tcp options", function()
  it("scales the peer's window by its shift, never the SYN's (RFC 7323 2.2)", function()
    local p = peer(41)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 40003, p:now(), err)
    local syn = assert(p:expect(1000))
    assert.is_not_nil(syn.wscale)
    p:send { sport = 80, dport = 40003, seq = 500, ack = syn.seq + 1, flags = "S.", win = 1000, wscale = 2 }
    p:collect(1000)
    assert.are.equal("ESTABLISHED", state(s))
    assert.are.equal(1000, info(s).snd_wnd)            -- from the SYN-ACK: unscaled
    p:send { sport = 80, dport = 40003, seq = 501, ack = syn.seq + 1, flags = ".", win = 1000 }
    p:collect(1000)
    assert.are.equal(4000, info(s).snd_wnd)
  end)

  it("echoes timestamps and drops an older one as PAWS would (RFC 7323 4.3, 5.3)", function()
    local p = peer(42)
    local s, sa = establish(p, listen(p), 2002, { ts = { 1000, 0 } })
    assert.are.equal(1000, sa.ts[2])
    assert.are.equal(1448, info(s).snd_mss)            -- RFC 6691: room for the option
    p:send { sport = 2002, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "P.", data = "abc", ts = { 1005, sa.ts[1] } }
    p:collect(1000)
    C.tl_send(s, "xyz", 3, p:now())
    local d = assert(p:expect(1000))
    assert.are.equal("xyz", d.data)
    assert.are.equal(1005, d.ts[2])
    local before = core.stats(p.st).drop_tcp_paws
    p:send { sport = 2002, dport = PORT, seq = ISS + 4, ack = sa.seq + 4, flags = "P.", data = "old", ts = { 900, sa.ts[1] } }
    local a = assert(p:expect(1000), "PAWS drop not answered with an ACK")
    assert.are.equal(ISS + 4, a.ack)
    assert.are.equal(before + 1, core.stats(p.st).drop_tcp_paws)
    assert.are.equal(3, tonumber(C.tl_readable(s)))
  end)

  it("stops trusting TS.Recent after 24 idle days (RFC 7323 5.5)", function()
    local p = peer(49)
    local s, sa = establish(p, listen(p), 2009, { ts = { 1000, 0 } })
    p:send { sport = 2009, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "P.", data = "abc", ts = { 5000, sa.ts[1] } }
    p:collect(1000)
    local paws = core.stats(p.st).drop_tcp_paws
    -- a day later, an older TSval is still a PAWS drop
    p:collect(86400e6)
    p:send { sport = 2009, dport = PORT, seq = ISS + 4, ack = sa.seq + 1, flags = "P.", data = "def", ts = { 4000, sa.ts[1] } }
    p:collect(1000)
    assert.are.equal(paws + 1, core.stats(p.st).drop_tcp_paws)
    assert.are.equal(3, tonumber(C.tl_readable(s)))
    -- 25 days after TS.Recent was set, the peer's clock may have wrapped: taken
    p:collect(24 * 86400e6)
    p:send { sport = 2009, dport = PORT, seq = ISS + 4, ack = sa.seq + 1, flags = "P.", data = "def", ts = { 4000, sa.ts[1] } }
    local a = assert(p:expect(500e3))
    assert.are.equal(ISS + 7, a.ack)
    assert.are.equal(4000, a.ts[2], "TS.Recent set anew from the accepted segment")
    assert.are.equal(paws + 1, core.stats(p.st).drop_tcp_paws)
    assert.are.equal(1, core.stats(p.st).tcp_paws_stale)
    assert.are.equal(6, tonumber(C.tl_readable(s)))
  end)

  it("reports out-of-order data in SACK blocks, the latest first (RFC 2018 4)", function()
    local p = peer(43)
    local s, sa = establish(p, listen(p), 2003, { sackok = true })
    assert.is_true(sa.sackok)
    p:send { sport = 2003, dport = PORT, seq = ISS + 11, ack = sa.seq + 1, flags = ".", data = string.rep("b", 10) }
    local a = assert(p:expect(1000))
    assert.are.same({ { ISS + 11, ISS + 21 } }, a.sack)
    p:send { sport = 2003, dport = PORT, seq = ISS + 31, ack = sa.seq + 1, flags = ".", data = string.rep("c", 10) }
    a = assert(p:expect(1000))
    assert.are.same({ { ISS + 31, ISS + 41 }, { ISS + 11, ISS + 21 } }, a.sack)
    assert.are.equal(20, info(s).ooo_bytes)
  end)

  it("resends exactly the holes the peer's SACK blocks show (RFC 6675)", function()
    local p = peer(48)
    local s, sa = establish(p, listen(p), 2007, { sackok = true })
    local iss = sa.seq
    local M = info(s).snd_mss
    C.tl_send(s, string.rep("s", M * 10), M * 10, p:now())
    local segs = p:collect(1000)
    assert.are.equal(10, #segs)
    -- segments 1 and 5 lost: SACK 2-4 and 6-10
    local b1 = { iss + 1 + M, iss + 1 + 4 * M }
    local b2 = { iss + 1 + 5 * M, iss + 1 + 10 * M }
    p:send { sport = 2007, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = ".", win = 65535, sack = { b2, b1 } }
    local r = p:collect(1000)
    assert.are.equal(2, #r, "expected two retransmissions")
    assert.are.equal(iss + 1, r[1].seq)
    assert.are.equal(iss + 1 + 4 * M, r[2].seq)
    assert.are.equal(M, #r[2].data)
    assert.are.equal(1, info(s).fast_retrans)
    -- the holes filled: everything acknowledged, recovery over
    p:send { sport = 2007, dport = PORT, seq = ISS + 1, ack = iss + 1 + 10 * M, flags = ".", win = 65535 }
    p:collect(1000)
    local i = info(s)
    assert.are.equal(0, i.unacked)
    assert.are.equal(i.ssthresh, i.cwnd)
  end)

  it("takes the ACK of a segment it has no room for (RFC 9293 3.10.7.4, zero window)", function()
    local p = peer(44)
    local l = listen(p)
    assert.are.equal(0, C.tl_setopt(l, C.TL_OPT_RCVBUF, 100))
    local s, sa = establish(p, l, 2004)
    p:send { sport = 2004, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "P.", data = string.rep("f", 100) }
    local a = assert(p:expect(1e6))
    assert.are.equal(0, a.win)
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    C.tl_send(s, "x", 1, p:now())
    assert(p:expect(1000))
    assert.are.equal(1, info(s).unacked)
    p:send { sport = 2004, dport = PORT, seq = ISS + 101, ack = sa.seq + 2, flags = "P.", data = "more" }
    a = assert(p:expect(1000), "no ACK for the refused segment")
    assert.are.equal(ISS + 101, a.ack)
    assert.are.equal(0, info(s).unacked)
    assert.are.equal(100, tonumber(C.tl_readable(s)))
  end)
end)

describe("tcp SYN-RECEIVED exits", function()
  it("returns to LISTEN on a RST: the half-open child goes (RFC 9293 3.10.7.4)", function()
    local p = peer(45)
    listen(p)
    p:send { sport = 2005, dport = PORT, seq = ISS, flags = "S" }
    assert(p:expect(1000))
    assert.are.equal(2, C.tl_tcp_sock_count(p.st))
    p:send { sport = 2005, dport = PORT, seq = ISS + 1, flags = "R" }
    p:collect(1000)
    assert.are.equal(1, C.tl_tcp_sock_count(p.st))
    assert.are.equal(0, C.tl_tcp_conn_count(p.st))
  end)

  it("closes to FIN-WAIT-1 once the handshake completes (RFC 9293 3.10.4)", function()
    local p = peer(46)
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 40002, p:now(), err)
    local syn = assert(p:expect(1000))
    p:send { sport = 80, dport = 40002, seq = 300, flags = "S" }
    assert(p:expect(1000))                              -- our SYN-ACK
    assert.are.equal("SYN-RECEIVED", state(s))
    assert.are.equal(0, C.tl_shutdown(s, p:now()))
    p:send { sport = 80, dport = 40002, seq = 300, ack = syn.seq + 1, flags = "S." }
    local fin = assert(p:expect(1000))
    assert.are.equal("F.", fin.flags)
    assert.are.equal(syn.seq + 1, fin.seq)
    assert.are.equal("FIN-WAIT-1", state(s))
  end)
end)

describe("tcp user timeout (RFC 9293 3.10.8, RFC 5482)", function()
  it("ends a connection whose data stays unacknowledged past TL_OPT_USER_TIMEOUT_MS", function()
    local p = peer(47)
    local s = establish(p, listen(p), 2006)
    assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_USER_TIMEOUT_MS, 3000))
    local t0 = p:now()
    C.tl_send(s, "lost", 4, p:now())
    p:collect(20e6)
    assert.are.equal("CLOSED", state(s))
    assert.are.equal(C.TL_ETIMEOUT, C.tl_sock_error(s))
    assert.is_true(info(s).retransmits < 15)
    assert.is_true(p:now() - t0 >= 3e6)
  end)
end)

describe("tcp linger (TL_OPT_LINGER_MS)", function()
  it("resets a closed connection whose data is still unacknowledged when the linger time runs out", function()
    local p = peer(49)
    local s = establish(p, listen(p), 2008)
    assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_LINGER_MS, 500))
    C.tl_send(s, "bye", 3, p:now())
    C.tl_close(s, p:now())
    local t0 = p:now()
    local rst
    for _ = 1, 20 do
      local seg = p:expect(2e6)
      if not seg then break end
      if seg.flags == "R" then rst = seg break end
    end
    assert(rst, "no RST after the linger time")
    assert.is_true(p:now() - t0 >= 500000 and p:now() - t0 <= 500000 + 2 * LAT)
    assert.are.equal(0, C.tl_tcp_sock_count(p.st) - 1)
    assert.are.equal(1, core.stats(p.st).tcp_linger_abort)
  end)
end)
