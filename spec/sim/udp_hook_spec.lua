-- Segment hooks, the fault library and the trace see UDP datagrams too:
-- the view has proto "udp", the ports, dir and the payload; verdicts drop,
-- delay and duplicate datagrams; rewritten ports get a fresh checksum.
local luasim = require "helpers.luasim"
local fault = require "tcplua.fault"
local trace = require "tcplua.trace"

local function echo(a, port)
  return assert(a.udp { port = port or 7, on_datagram = function(s, data, ip, p) assert(s:sendto(data, ip, p)) end })
end

-- n requests from b to 10.0.0.1:port, each waiting up to 100 ms: the answers.
local function ask(sim, b, port, n, msg)
  local got = {}
  b.spawn(function()
    local c = assert(b.udp())
    c:settimeout(100)
    for i = 1, n do
      assert(c:sendto((msg or "m") .. i, "10.0.0.1", port or 7))
      got[#got + 1] = c:receive() or "lost"
    end
    c:close()
  end)
  sim:run(10000)
  return got
end

describe("hooks over UDP", function()
  it("show a datagram's proto, ports, direction and payload", function()
    local sim, a, b, log = luasim.pair(1)
    echo(a)
    local seen = {}
    b.on_segment(function(seg, dir)
      seen[#seen + 1] = { seg.proto, dir, seg.sport == 7 and "from7" or seg.dport, seg.payload, seg.len,
        seg.checksum ~= 0, seg.src }
      assert.matches("^datagram 10%.0%.0%.%d%.%d+ > 10%.0%.0%.%d%.%d+ udp len 5$", tostring(seg))
      local line = trace.format(seg, dir)
      assert.matches("^%a+ 10%.0%.0%.%d%.%d+ > 10%.0%.0%.%d%.%d+: UDP, length 5$", line)
    end)
    assert.are.same({ "hell1" }, ask(sim, b, 7, 1, "hell"))
    assert.are.same({ { "udp", "out", 7, "hell1", 5, true, "10.0.0.2" }, { "udp", "in", "from7", "hell1", 5, true,
      "10.0.0.1" } }, seen)
    assert.are.same({}, log)
  end)

  it("drop datagrams by the fault library's policies, leaving TCP alone", function()
    local sim, a, b, log = luasim.pair(3)
    echo(a)
    fault.seed(5)
    a.on_segment(fault.when({ proto = "udp", dir = "in" }, fault.loss(1)))
    local got = ask(sim, b, 7, 3)
    assert.are.same({ "lost", "lost", "lost" }, got)
    assert.equal(0, a.stats().udp_in)
    -- TCP through the same hook passes.
    assert(a.listen(8, function(conn) conn:send(conn:receive() .. "\n") end))
    local line
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 8))
      c:send("tcp\n")
      line = c:receive()
      c:close()
    end)
    sim:run(10000)
    assert.equal("tcp", line)
    assert.are.same({}, log)
  end)

  it("duplicate a datagram, and move it to another port with a checksum that verifies", function()
    local sim, a, b, log = luasim.pair(1)
    local hits = {}
    assert(a.udp { port = 9, on_datagram = function(_, data) hits[#hits + 1] = data end })
    a.on_segment(function(seg, dir)
      if seg.proto == "udp" and dir == "in" and seg.dport == 7 then
        seg.dport = 9
        return { duplicate = 1 }
      end
    end)
    b.spawn(function()
      local c = assert(b.udp())
      assert(c:sendto("moved", "10.0.0.1", 7))
    end)
    sim:run(2000)
    assert.are.same({ "moved", "moved" }, hits)
    assert.equal(0, a.stats().drop_udp_checksum)
    assert.equal(0, a.stats().udp_no_port)
    assert.are.same({}, log)
  end)
  it("show ICMP messages too: a port unreachable, dropped by a hook, never reaches the socket", function()
    local sim, a, b, log = luasim.pair(1)
    local seen = {}
    b.on_segment(function(seg, dir)
      if seg.proto == "icmp" then
        seen[#seen + 1] = { dir, seg.type, seg.code, seg.src, seg.len, seg.sport }
        assert.matches("^%a+ 10%.0%.0%.1 > 10%.0%.0%.2: ICMP unreachable, type 3, code 3, length %d+$",
          trace.format(seg, dir))
        return "drop"
      end
    end)
    local got
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(300)
      assert(c:setpeername("10.0.0.1", 9))
      assert(c:send("anyone?"))
      got = { c:receive() }
    end)
    sim:run(3000)
    -- The quote: the IP header (20) and the whole 15-byte datagram.
    assert.are.same({ { "in", 3, 3, "10.0.0.1", 35 } }, seen)
    assert.are.same({ nil, "timeout" }, got)
    assert.equal(1, a.stats().udp_no_port)
    assert.equal(0, b.stats().udp_icmp_err)
    assert.are.same({}, log)
  end)
end)
