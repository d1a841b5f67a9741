-- Packetdrill-style conformance scripts: a scripted peer (spec/helpers/
-- tcppkt.lua) against one stack over the sim link. Each test states the
-- RFC rule it checks.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT = 7
local ISS = 1000000

local function listen(p) return p:listen(PORT) end

-- Stack's counters that changed between two snapshots.
local function delta(before, after)
  local d = {}
  for k, v in pairs(after) do
    if v ~= (before[k] or 0) then d[k] = v - (before[k] or 0) end
  end
  return d
end

local function find_counter(d, pattern)
  for k, v in pairs(d) do if k:match(pattern) then return k, v end end
end

-- Three-way handshake from the peer; returns the accepted socket and the
-- SYN-ACK.
local function establish(p, l, sport, extra)
  local syn = { sport = sport, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460 }
  for k, v in pairs(extra or {}) do syn[k] = v end
  p:send(syn)
  local sa = assert(p:expect(100000), "no SYN-ACK")
  assert.are.equal("S.", sa.flags, pkt.describe(sa))
  p:send { sport = sport, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
  p:collect(10000)
  local s = C.tl_accept(l)
  assert(s ~= nil, "handshake did not complete: nothing to accept")
  return s, sa
end

local info = pkt.info

describe("conformance: connection setup", function()
  it("answers a SYN with a SYN-ACK carrying our MSS (RFC 9293 3.5, 3.7.1)", function()
    local p = pkt.peer { seed = 11 }
    listen(p)
    p:send { sport = 4000, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460 }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no answer to SYN")
    assert.are.equal("S.", r.flags)
    assert.are.equal(ISS + 1, r.ack)
    assert.are.equal(PORT, r.sport)
    assert.are.equal(4000, r.dport)
    assert.is_true(r.csum_ok and r.ip_csum_ok)
    assert.is_not_nil(r.mss, "SYN-ACK without MSS option")
    assert.is_true(r.mss <= 1500 - 40 and r.mss >= 536, "mss " .. tostring(r.mss))
  end)

  it("ignores an unknown option in a SYN (RFC 9293 3.2)", function()
    local p = pkt.peer { seed = 12 }
    listen(p)
    p:send { sport = 4001, dport = PORT, seq = ISS, flags = "S", mss = 1400, opts = "\254\6\1\2\3\4" }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no answer to SYN with an unknown option")
    assert.are.equal("S.", r.flags)
    assert.are.equal(ISS + 1, r.ack)
  end)

  it("completes the handshake and delivers data (RFC 9293 3.5, 3.10.7.4)", function()
    local p = pkt.peer { seed = 13 }
    local l = listen(p)
    local s, sa = establish(p, l, 4002)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
    p:send { sport = 4002, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "P.", data = "hello" }
    local acks = p:collect(500000) -- delayed ACK is at most 500 ms (RFC 1122 4.2.3.2)
    local acked = false
    for _, a in ipairs(acks) do if a.ack == ISS + 6 then acked = true end end
    assert.is_true(acked, "data never acknowledged")
    local buf = ffi.new("uint8_t[64]")
    local n = C.tl_recv(s, buf, 64, p:now())
    assert.are.equal(5, tonumber(n))
    assert.are.equal("hello", ffi.string(buf, n))
  end)
end)

describe("conformance: bad input", function()
  it("drops a segment with a bad checksum silently and counts it (RFC 9293 3.10.7)", function()
    local p = pkt.peer { seed = 14 }
    listen(p)
    local before = p:stats()
    p:send { sport = 4003, dport = PORT, seq = ISS, flags = "S", bad_csum = true }
    assert.is_nil(p:expect(200000), "answered a SYN with a bad checksum")
    local d = delta(before, p:stats())
    local name = find_counter(d, "tcp.*checksum") or find_counter(d, "tcp.*csum")
    assert.is_not_nil(name, "no tcp checksum counter moved")
  end)

  it("drops a segment with a malformed option and counts it", function()
    local p = pkt.peer { seed = 15 }
    listen(p)
    local before = p:stats()
    p:send { sport = 4004, dport = PORT, seq = ISS, flags = "S", opts = "\2\0" }
    assert.is_nil(p:expect(200000), "answered a SYN with a zero-length option")
    local d = delta(before, p:stats())
    local name = find_counter(d, "drop_tcp.*opt") or find_counter(d, "tcp.*opt")
    assert.is_not_nil(name, "no tcp drop counter moved")
  end)
end)

describe("conformance: closed port (RFC 9293 3.10.7.1)", function()
  it("answers a SYN with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", function()
    local p = pkt.peer { seed = 16 }
    p:send { sport = 4005, dport = 9, seq = ISS, flags = "S" }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no RST from a closed port")
    assert.are.equal("R.", r.flags)
    assert.are.equal(0, r.seq)
    assert.are.equal(ISS + 1, r.ack) -- the SYN occupies one sequence number
  end)

  it("answers data without ACK counting SYN, data and FIN in SEG.LEN", function()
    local p = pkt.peer { seed = 17 }
    p:send { sport = 4006, dport = 9, seq = ISS, flags = "F", data = "abc" }
    local r = p:expect(100000)
    assert.is_not_nil(r)
    assert.are.equal("R.", r.flags)
    assert.are.equal(ISS + 4, r.ack)
  end)

  it("answers an ACK with <SEQ=SEG.ACK><CTL=RST>", function()
    local p = pkt.peer { seed = 18 }
    p:send { sport = 4007, dport = 9, seq = ISS, ack = 0xdeadbeef, flags = "." }
    local r = p:expect(100000)
    assert.is_not_nil(r)
    assert.are.equal("R", r.flags)
    assert.are.equal(0xdeadbeef, r.seq)
  end)

  it("never answers a RST", function()
    local p = pkt.peer { seed = 19 }
    p:send { sport = 4008, dport = 9, seq = ISS, flags = "R" }
    p:send { sport = 4008, dport = 9, seq = ISS, ack = 5, flags = "R." }
    assert.is_nil(p:expect(200000))
  end)
end)

describe("conformance: synchronized states", function()
  it("ACKs an out-of-window segment with the expected sequence number (RFC 9293 3.10.7.4)", function()
    local p = pkt.peer { seed = 20 }
    local l = listen(p)
    local s, sa = establish(p, l, 4009)
    local rcv_wnd = info(s).rcv_wnd
    p:send { sport = 4009, dport = PORT, seq = ISS + 1 + rcv_wnd + 1000, ack = sa.seq + 1, flags = "P.", data = "x" }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no ACK for an out-of-window segment")
    assert.are.equal(".", r.flags)
    assert.are.equal(ISS + 1, r.ack)
    assert.are.equal(sa.seq + 1, r.seq)
    assert.are.equal(0, tonumber(C.tl_readable(s)))
  end)

  it("answers an in-window RST that is not exact with a challenge ACK (RFC 5961 3.2)", function()
    local p = pkt.peer { seed = 21 }
    local l = listen(p)
    local s, sa = establish(p, l, 4010)
    p:send { sport = 4010, dport = PORT, seq = ISS + 1 + 100, flags = "R" }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no challenge ACK")
    assert.are.equal(".", r.flags)
    assert.are.equal(ISS + 1, r.ack)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
    -- the exact RST then resets the connection
    p:send { sport = 4010, dport = PORT, seq = ISS + 1, flags = "R" }
    p:collect(10000)
    assert.are_not.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
    assert.are.equal(C.TL_ERESET, C.tl_sock_error(s))
    local _ = sa
  end)

  it("answers a SYN on an established connection with a challenge ACK (RFC 5961 4.2)", function()
    local p = pkt.peer { seed = 22 }
    local l = listen(p)
    local s, sa = establish(p, l, 4011)
    p:send { sport = 4011, dport = PORT, seq = ISS + 500, flags = "S" }
    local r = p:expect(100000)
    assert.is_not_nil(r, "no challenge ACK")
    assert.are.equal(".", r.flags)
    assert.are.equal(ISS + 1, r.ack)
    assert.are.equal(sa.seq + 1, r.seq)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
  end)

  it("ignores a RST outside the window (RFC 5961 3.2)", function()
    local p = pkt.peer { seed = 23 }
    local l = listen(p)
    local s = establish(p, l, 4012)
    p:send { sport = 4012, dport = PORT, seq = ISS - 100000, flags = "R" }
    assert.is_nil(p:expect(100000))
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
  end)
end)
