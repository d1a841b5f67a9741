-- Sending urgent data (RFC 9293 3.8.5 and 3.10.2 SEND with URGENT, RFC 1122
-- 4.2.2.4, RFC 6093): the data stays inline, SND.UP marks the octet after
-- it, and every segment before SND.UP carries URG until it is acknowledged.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"
local tcpsim = require "helpers.tcpsim"

local PORT, ISS, MSS = 8080, 90000, 1000

local function connected(seed, sport) return pkt.connected(seed, PORT, ISS, sport, { mss = MSS }) end

local function has_urg(seg) return seg.flags:find("U", 1, true) ~= nil end

describe("tcp: sending urgent data", function()
  it("marks urgent data with URG and a pointer to the octet after it, on every segment, until it is acknowledged (RFC 9293 3.8.5, RFC 6093)", function()
    local c = connected(61, 6101)
    local data = ("u"):rep(2500)
    assert.are.equal(2500, tonumber(C.tl_send_urgent(c.s, data, #data, c.p:now())))
    local up = c.ack + 2500
    local segs = c.p:collect(50000)
    local got = {}
    for _, seg in ipairs(segs) do
      if #seg.data > 0 then
        got[#got + 1] = seg.data
        assert.is_true(has_urg(seg), "segment at +" .. (seg.seq - c.ack) .. " lacks URG: " .. seg.flags)
        assert.are.equal(up - seg.seq, seg.urg)
        assert.is_true(#seg.data <= MSS)
      end
    end
    assert.are.equal(data, table.concat(got), "urgent data is sent inline and in order")
    assert.are.equal(up, pkt.info(c.s).snd_up)
    -- acknowledge it all: SND.UNA passes SND.UP, urgent mode ends
    c.send { ack = up }
    c.p:collect(10000)
    assert.are.equal(up, pkt.info(c.s).snd_una)
    assert.are.equal(1, tonumber(C.tl_send(c.s, "n", 1, c.p:now())))
    local seg = assert(c.p:expect(50000), "ordinary data not sent")
    assert.are.equal("n", seg.data)
    assert.is_false(has_urg(seg), "URG after SND.UP was acknowledged: " .. seg.flags)
    assert.are.equal(0, seg.urg)
  end)

  it("keeps URG on data sent while earlier urgent data is unacknowledged, and on its retransmission", function()
    local c = connected(62, 6102)
    assert.are.equal(3, tonumber(C.tl_send_urgent(c.s, "abc", 3, c.p:now())))
    local first = assert(c.p:expect(50000), "urgent data not sent")
    assert.are.equal("abc", first.data)
    assert.is_true(has_urg(first))
    assert.are.equal(3, first.urg)
    -- no ACK: the RTO resends it, still urgent
    local again = assert(c.p:expect(3000000), "no retransmission")
    assert.are.equal("abc", again.data)
    assert.is_true(has_urg(again), "retransmission lost URG: " .. again.flags)
    assert.are.equal(3, again.urg)
    assert.is_true(pkt.info(c.s).total_retrans > 0)
  end)

  it("sends a 100 KB urgent block in MSS pieces, each with URG, the pointer capped at 65535 (RFC 1122 4.2.2.4, RFC 6093 4)", function()
    local c = connected(63, 6103)
    local N = 100 * 1024
    assert.are.equal(0, C.tl_setopt(c.s, C.TL_OPT_SNDBUF, 256 * 1024))
    local data = tcpsim.bytes(N, 63)
    assert.are.equal(N, tonumber(C.tl_send_urgent(c.s, data, N, c.p:now())))
    local up = c.ack + N
    local got, nurg, capped, acked = {}, 0, 0, c.ack
    for _ = 1, 2000 do
      local seg = c.p:expect(500000)
      if not seg then break end
      if #seg.data > 0 and seg.seq == acked then
        assert.is_true(#seg.data <= MSS, "urgent segment of " .. #seg.data .. " bytes (must not go to TSO)")
        assert.is_true(has_urg(seg), "segment at +" .. (seg.seq - c.ack) .. " lacks URG")
        local want = up - seg.seq
        if want > 65535 then
          want = 65535
          capped = capped + 1
        end
        assert.are.equal(want, seg.urg)
        nurg = nurg + 1
        got[#got + 1] = seg.data
        acked = acked + #seg.data
        c.send { ack = acked }
      end
      if acked == up then break end
    end
    assert.are.equal(N, acked - c.ack)
    assert.is_true(table.concat(got) == data, "the urgent block arrived changed")
    assert.is_true(nurg >= N / MSS, "only " .. nurg .. " segments")
    assert.is_true(capped > 0, "no segment had the offset above 65535")
    assert.is_true(c.p:stats().tcp_urg_out >= nurg)
  end)

  it("shows the receiver the sender's urgent mark while the urgent data is still arriving, inline (two stacks)", function()
    local w = tcpsim.pair { seed = 64, latency_us = 5000 }
    local c, s = w:establish(80)
    local ci = w:info(c)
    local N = 30000 -- beyond the first flight, within one pointer's reach
    local data = tcpsim.bytes(N, 64)
    assert.are.equal(5, tonumber(C.tl_send(c, "plain", 5, w:now())))
    assert.are.equal(N, tonumber(C.tl_send_urgent(c, data, N, w:now())))
    local up = ci.snd_nxt + 5 + N
    assert.are.equal(up, w:info(c).snd_up)
    local got = ""
    w:run_until(function()
      got = got .. w:read(s)
      return #got > 5
    end, 10e6)
    local si = w:info(s)
    assert.is_true(#got < 5 + N, "all the data came in one flight; the test needs it split")
    assert.are.equal(up, si.rcv_up, "receiver's urgent mark")
    w:run_until(function()
      got = got .. w:read(s)
      return #got >= 5 + N and w:info(c).snd_una == up
    end, 30e6)
    assert.is_true(got == "plain" .. data, "urgent data not delivered inline and in order")
    assert.are.equal(up, w:info(c).snd_up, "snd_up reads snd_una once all is acknowledged")
    assert.are.equal(w:info(s).rcv_nxt, w:info(s).rcv_up)
  end)
end)
