-- Packetdrill-style scripts for the data path: out-of-order arrival,
-- retransmission, zero window, handshake corner cases, TIME-WAIT. A
-- scripted peer (spec/helpers/tcppkt.lua) drives one stack over the sim.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS = 8080, 70000

-- A connected pair: the peer's view (seq/ack it should use) and the socket.
local function connected(seed, sport, synopts) return pkt.connected(seed, PORT, ISS, sport, synopts) end

local function recv_all(c)
  local buf = ffi.new("uint8_t[65536]")
  local out = {}
  for _ = 1, 100 do
    local n = tonumber(C.tl_recv(c.s, buf, 65536, c.p:now()))
    if n <= 0 then break end
    out[#out + 1] = ffi.string(buf, n)
  end
  return table.concat(out)
end

describe("conformance: receiving out of order", function()
  it("ACKs an out-of-order segment at once with rcv_nxt, then the whole run when the hole fills (RFC 5681 4.2)", function()
    local c = connected(41, 6001)
    c.send { seq = c.seq + 5, flags = "P.", data = "world" }
    local dup = c.p:expect(10000) -- immediately, not after the delayed-ACK timer
    assert.is_not_nil(dup, "no immediate ACK for out-of-order data")
    assert.are.equal(c.seq, dup.ack)
    assert.are.equal("", recv_all(c))
    c.send { flags = "P.", data = "hello" }
    local full = c.p:expect(10000)
    assert.is_not_nil(full, "no immediate ACK when the hole filled")
    assert.are.equal(c.seq + 10, full.ack)
    assert.are.equal("helloworld", recv_all(c))
  end)

  it("reassembles a stream sent as overlapping segments in random order", function()
    math.randomseed(793)
    for round = 1, 5 do
      local c = connected(50 + round, 6100 + round)
      local chunks, stream = {}, {}
      for i = 1, 4000 do stream[i] = string.char(32 + (i * 7 + round) % 90) end
      stream = table.concat(stream)
      local pos = 0
      while pos < #stream do
        local len = math.random(1, 900)
        local start = math.max(0, pos - math.random(0, 50)) -- some overlap
        chunks[#chunks + 1] = { start, stream:sub(start + 1, math.min(#stream, pos + len)) }
        pos = math.min(#stream, pos + len)
      end
      for i = #chunks, 2, -1 do
        local j = math.random(1, i)
        chunks[i], chunks[j] = chunks[j], chunks[i]
      end
      local got = {}
      for _, ch in ipairs(chunks) do
        c.send { seq = c.seq + ch[1], flags = "P.", data = ch[2] }
        c.p:collect(1000)
        got[#got + 1] = recv_all(c)
      end
      -- anything refused (range cap) is resent in order, as a peer would
      local have = #table.concat(got)
      while have < #stream do
        c.send { seq = c.seq + have, flags = "P.", data = stream:sub(have + 1, have + 900) }
        c.p:collect(1000)
        local more = recv_all(c)
        assert.is_true(#more > 0, "in-order data not accepted at " .. have)
        got[#got + 1] = more
        have = have + #more
      end
      assert.are.equal(stream, table.concat(got), "round " .. round)
    end
  end)
end)

describe("conformance: unusual segments", function()
  it("delivers urgent data inline, in sequence (RFC 6093 6, RFC 9293 3.8.5)", function()
    local c = connected(47, 6007)
    c.send { flags = "P.U", urg = 3, data = "abc" }
    c.send { seq = c.seq + 3, flags = "P.", data = "def" }
    c.p:collect(300000)
    assert.are.equal("abcdef", recv_all(c))
  end)

  it("delivers data carried on a SYN exactly once, whether or not it was queued (RFC 9293 3.10.7.2)", function()
    local p = pkt.peer { seed = 48 }
    local err = ffi.new("int[1]")
    local l = C.tl_listen(p.st, PORT, 16, err)
    p:send { sport = 6008, dport = PORT, seq = ISS, flags = "S", mss = 1000, data = "early" }
    local sa = assert(p:expect(100000), "no SYN-ACK")
    assert.are.equal("S.", sa.flags)
    local taken = sa.ack - (ISS + 1)
    assert.is_true(taken == 0 or taken == 5, "SYN-ACK acks " .. taken .. " data bytes")
    p:send { sport = 6008, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    p:collect(10000)
    local s = C.tl_accept(l)
    assert(s ~= nil, "nothing to accept")
    -- a real peer resends what was not acknowledged
    p:send { sport = 6008, dport = PORT, seq = ISS + 1 + taken, ack = sa.seq + 1, flags = "P.",
      data = ("early"):sub(taken + 1) .. "late" }
    p:collect(300000)
    assert.are.equal("earlylate", recv_all { s = s, p = p })
  end)
end)

describe("conformance: sending", function()
  it("retransmits unacknowledged data after the RTO (RFC 6298 5)", function()
    local c = connected(42, 6002)
    assert.are.equal(4, tonumber(C.tl_send(c.s, "data", 4, c.p:now())))
    local first = c.p:expect(10000)
    assert.is_not_nil(first, "data not sent")
    assert.are.equal("data", first.data)
    local t0 = c.p:now()
    local again = c.p:expect(3000000)
    assert.is_not_nil(again, "no retransmission within 3 s")
    assert.are.equal(first.seq, again.seq)
    assert.are.equal("data", again.data)
    local rto = c.p:now() - t0
    local min_rto = C.tl_stack_config(c.p.st).tcp_rto_min_us
    assert.is_true(rto >= min_rto, ("retransmitted after %d us, min RTO %d"):format(rto, min_rto))
    -- RFC 6298 5.5: the timer backs off
    local t1 = c.p:now()
    local third = c.p:expect(6000000)
    assert.is_not_nil(third, "no second retransmission")
    assert.is_true(c.p:now() - t1 >= 2 * rto - 1000, "RTO did not back off")
  end)

  it("stops at a zero window and probes it (RFC 9293 3.8.6.1)", function()
    local c = connected(43, 6003)
    c.win = 0
    c.send {}
    c.p:collect(10000)
    assert.are.equal(5, tonumber(C.tl_send(c.s, "queue", 5, c.p:now())))
    local probe = c.p:expect(5000000)
    assert.is_not_nil(probe, "no zero-window probe within 5 s")
    assert.is_true(#probe.data <= 1, "sent " .. #probe.data .. " bytes into a zero window")
    c.win = 65535
    c.send {}
    local got, deadline = "", c.p:now() + 3000000
    while c.p:now() < deadline and not got:find("queue", 1, true) do
      local r = c.p:expect(deadline - c.p:now())
      if not r then break end
      if #r.data > 0 then
        got = got:sub(1, r.seq - c.ack) .. r.data
      end
    end
    assert.matches("queue", got)
  end)
end)

describe("conformance: handshake corner cases", function()
  it("answers a retransmitted SYN in SYN-RECEIVED with the same SYN-ACK (RFC 9293 3.10.7.4)", function()
    local p = pkt.peer { seed = 44 }
    local err = ffi.new("int[1]")
    assert(C.tl_listen(p.st, PORT, 16, err) ~= nil)
    p:send { sport = 6004, dport = PORT, seq = ISS, flags = "S", mss = 1000 }
    local a = assert(p:expect(100000))
    p:send { sport = 6004, dport = PORT, seq = ISS, flags = "S", mss = 1000 }
    local b = p:expect(1500000)
    assert.is_not_nil(b, "no answer to the retransmitted SYN")
    assert.are.equal("S.", b.flags)
    assert.are.equal(a.seq, b.seq)
    assert.are.equal(ISS + 1, b.ack)
  end)

  it("drops a half-open connection on a RST in SYN-RECEIVED (RFC 9293 3.10.7.4)", function()
    local p = pkt.peer { seed = 45 }
    local err = ffi.new("int[1]")
    local l = C.tl_listen(p.st, PORT, 16, err)
    p:send { sport = 6005, dport = PORT, seq = ISS, flags = "S" }
    local sa = assert(p:expect(100000))
    p:send { sport = 6005, dport = PORT, seq = ISS + 1, flags = "R" }
    p:collect(10000)
    -- the late ACK finds no connection: RST, nothing to accept
    p:send { sport = 6005, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    local r = p:expect(100000)
    assert.is_not_nil(r)
    assert.are.equal("R", r.flags)
    assert.is_true(C.tl_accept(l) == nil)
  end)

  it("re-ACKs a retransmitted FIN in TIME-WAIT (RFC 9293 3.10.7.4)", function()
    local c = connected(46, 6006)
    C.tl_close(c.s, c.p:now())
    local fin = c.p:expect(100000)
    assert.is_not_nil(fin, "no FIN after close")
    assert.is_truthy(fin.flags:find("F"))
    c.send { ack = fin.seq + 1, flags = "F." }
    local a1 = c.p:expect(600000)
    assert.is_not_nil(a1, "FIN not acknowledged")
    assert.are.equal(c.seq + 1, a1.ack)
    c.send { ack = fin.seq + 1, flags = "F." }
    local a2 = c.p:expect(600000)
    assert.is_not_nil(a2, "retransmitted FIN not acknowledged in TIME-WAIT")
    assert.are.equal(c.seq + 1, a2.ack)
  end)
end)
