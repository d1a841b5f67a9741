-- A reader that closes in the middle of a bulk transfer with nothing left
-- unread sends a FIN, then answers every data segment still in flight with
-- <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.1), as Linux does. Those segments
-- acknowledged RCV.NXT from before the FIN, so their RSTs sit one below our
-- RCV.NXT: outside the window, dropped (RFC 5961 3.2). The bench's bulk send
-- saw thousands of them per run; this pins down that they are counted as
-- what they are, and that the connection is still reset by the RST that
-- answers our ACK of the FIN.
local core = require "tcplua.core"
local C = core.C
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT = 19, 5000, 3101

describe("RSTs answering data in flight after the peer's FIN", function()
  it("drops those one below RCV.NXT as out of window (RFC 5961 3.2) and resets on the one at RCV.NXT", function()
    local p = pkt.peer { seed = 3101 }
    local l = p:listen(PORT)
    local s, sa = p:handshake(l, { sport = SPORT, dport = PORT, seq = ISS, mss = 1460 })
    local iss = sa.seq

    -- Data in flight, each segment acknowledging the peer's ISS + 1.
    local data = string.rep("x", 8 * 1460)
    assert.are.equal(#data, tonumber(C.tl_send(s, data, #data, p:now())))
    local flight = {}
    for _, r in ipairs(p:collect(1000)) do
      if #r.data > 0 then flight[#flight + 1] = r end
    end
    assert.is_true(#flight >= 4, "expected several data segments in flight")

    -- The reader closes with nothing unread: a FIN first, acknowledging none of it.
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = iss + 1, flags = "F.", win = 65535 }
    local fin_ack
    for _, r in ipairs(p:collect(1000)) do
      if r.ack == ISS + 2 then fin_ack = r end
    end
    assert(fin_ack, "the FIN was not acknowledged")
    assert.are.equal("CLOSE-WAIT", pkt.state(s))

    -- Its socket gone, the peer answers each segment in flight with <SEQ=SEG.ACK><CTL=RST>.
    local before = p:stats()
    for _, r in ipairs(flight) do
      assert.are.equal(ISS + 1, r.ack)
      p:send { sport = SPORT, dport = PORT, seq = r.ack, flags = "R", win = 0 }
    end
    assert.is_nil(p:expect(1000), "an out-of-window RST was answered")
    local after = p:stats()
    assert.are.equal(#flight, after.drop_tcp_rst_oow - before.drop_tcp_rst_oow)
    assert.are.equal(before.drop_tcp_unacceptable, after.drop_tcp_unacceptable)
    assert.are.equal(before.tcp_conn_reset, after.tcp_conn_reset)
    assert.are.equal("CLOSE-WAIT", pkt.state(s))

    -- The RST answering our ACK of the FIN carries SEQ = RCV.NXT: reset.
    p:send { sport = SPORT, dport = PORT, seq = fin_ack.ack, flags = "R", win = 0 }
    p:collect(1000)
    assert.are.equal(before.tcp_conn_reset + 1, p:stats().tcp_conn_reset)
    assert.are.equal("CLOSED", pkt.state(s))
  end)
end)
