-- Packetdrill-style scripts for option negotiation (RFC 7323, RFC 2018,
-- RFC 9293 3.7.1) and the close handshake (RFC 9293 3.6), scripted peer
-- against one stack over the sim link.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS = 80, 5000

local function setup(seed)
  local p = pkt.peer { seed = seed }
  local err = ffi.new("int[1]")
  local l = C.tl_listen(p.st, PORT, 16, err)
  assert(l ~= nil, "tl_listen failed: " .. core.strerror(err[0]))
  return p, l
end

local function syn_ack(p, sport, opts)
  local t = { sport = sport, dport = PORT, seq = ISS, flags = "S", win = 65535 }
  for k, v in pairs(opts) do t[k] = v end
  p:send(t)
  local r = p:expect(100000)
  assert(r, "no SYN-ACK")
  assert.are.equal("S.", r.flags, pkt.describe(r))
  return r
end

describe("conformance: option negotiation", function()
  it("offers window scale, SACK and timestamps only when the SYN did (RFC 7323 1.3, 2.2; RFC 2018 2)", function()
    local p = setup(31)
    local bare = syn_ack(p, 5001, { mss = 1460 })
    assert.is_nil(bare.wscale, "window scale in reply to a SYN without it")
    assert.is_nil(bare.ts, "timestamps in reply to a SYN without them")
    assert.is_nil(bare.sackok, "SACK-permitted in reply to a SYN without it")
    local full = syn_ack(p, 5002, { mss = 1460, wscale = 7, sackok = true, ts = { 4242, 0 } })
    assert.is_not_nil(full.wscale)
    assert.is_true(full.wscale <= 14) -- RFC 7323 2.3
    assert.is_true(full.sackok, "no SACK-permitted in reply to a SYN with it")
    assert.is_not_nil(full.ts, "no timestamps in reply to a SYN with them")
    assert.are.equal(4242, full.ts[2]) -- TSecr echoes TSval (RFC 7323 3.2)
  end)

  it("does not scale the window in a SYN-ACK (RFC 7323 2.2)", function()
    local p = setup(32)
    local r = syn_ack(p, 5003, { mss = 1460, wscale = 7 })
    local rcvbuf = C.tl_stack_config(p.st).tcp_rcvbuf
    -- scaled, a 256 KB buffer would read as rcvbuf >> wscale (a few KB)
    assert.is_not_nil(r.wscale)
    assert.are.equal(math.min(65535, rcvbuf), r.win)
  end)

  it("sends no segment larger than the peer's MSS (RFC 9293 3.7.1)", function()
    local p, l = setup(33)
    local sa = syn_ack(p, 5004, { mss = 536 })
    p:send { sport = 5004, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
    p:collect(10000)
    local s = C.tl_accept(l)
    assert(s ~= nil, "nothing to accept")
    local data = string.rep("m", 3000)
    assert.are.equal(3000, tonumber(C.tl_send(s, data, #data, p:now())))
    local got, total, ack = {}, 0, sa.seq + 1
    for _ = 1, 50 do
      local segs = p:collect(50000)
      for _, r in ipairs(segs) do
        assert.is_true(#r.data <= 536, "segment of " .. #r.data .. " bytes")
        if #r.data > 0 then
          got[#got + 1] = r.data
          total = total + #r.data
          ack = math.max(ack, r.seq + #r.data)
        end
      end
      p:send { sport = 5004, dport = PORT, seq = ISS + 1, ack = ack, flags = ".", win = 65535 }
      if total >= 3000 then break end
    end
    assert.are.equal(data, table.concat(got))
  end)

  it("echoes the peer's timestamp on data ACKs (RFC 7323 4.3)", function()
    local p, l = setup(34)
    local sa = syn_ack(p, 5005, { mss = 1460, ts = { 100, 0 } })
    assert.is_not_nil(sa.ts, "no timestamps in the SYN-ACK")
    p:send { sport = 5005, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", ts = { 101, sa.ts[1] } }
    p:collect(10000)
    assert(C.tl_accept(l) ~= nil, "nothing to accept")
    p:send { sport = 5005, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "P.", ts = { 150, sa.ts[1] },
      data = "ping" }
    local acks = p:collect(600000)
    local last
    for _, r in ipairs(acks) do if r.ack == ISS + 5 then last = r end end
    assert.is_not_nil(last, "data not acknowledged")
    assert.is_not_nil(last.ts, "ACK without timestamp")
    assert.are.equal(150, last.ts[2])
  end)
end)

describe("conformance: SACK (RFC 2018)", function()
  it("reports out-of-order data in SACK blocks, the most recent first (RFC 2018 4)", function()
    local p, l = setup(36)
    local sa = syn_ack(p, 5007, { mss = 1460, sackok = true })
    assert.is_true(sa.sackok, "no SACK-permitted in the SYN-ACK")
    p:send { sport = 5007, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    p:collect(10000)
    assert(C.tl_accept(l) ~= nil, "nothing to accept")
    local base = ISS + 1
    p:send { sport = 5007, dport = PORT, seq = base + 100, ack = sa.seq + 1, flags = "P.", data = string.rep("a", 100) }
    local a1 = p:expect(10000)
    assert.is_not_nil(a1, "no ACK for out-of-order data")
    assert.are.equal(base, a1.ack)
    assert.are.same({ { base + 100, base + 200 } }, a1.sack)
    p:send { sport = 5007, dport = PORT, seq = base + 300, ack = sa.seq + 1, flags = "P.", data = string.rep("b", 100) }
    local a2 = p:expect(10000)
    assert.is_not_nil(a2)
    assert.is_not_nil(a2.sack, "no SACK blocks")
    assert.are.same({ base + 300, base + 400 }, a2.sack[1]) -- the newest block first
    assert.are.same({ base + 100, base + 200 }, a2.sack[2])
    -- filling the first hole merges: everything up to 200 is acked, 300-400 remains
    p:send { sport = 5007, dport = PORT, seq = base, ack = sa.seq + 1, flags = "P.", data = string.rep("c", 100) }
    local a3 = p:expect(10000)
    assert.is_not_nil(a3)
    assert.are.equal(base + 200, a3.ack)
    assert.are.same({ { base + 300, base + 400 } }, a3.sack)
  end)

  it("sends no SACK blocks when the peer did not offer SACK (RFC 2018 2)", function()
    local p, l = setup(37)
    local sa = syn_ack(p, 5008, { mss = 1460 })
    p:send { sport = 5008, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    p:collect(10000)
    assert(C.tl_accept(l) ~= nil, "nothing to accept")
    p:send { sport = 5008, dport = PORT, seq = ISS + 101, ack = sa.seq + 1, flags = "P.", data = "late" }
    local a = p:expect(10000)
    assert.is_not_nil(a)
    assert.is_nil(a.sack)
  end)
end)

describe("conformance: closing (RFC 9293 3.6)", function()
  it("ACKs the peer's FIN, reports end of data, and closes with its own FIN", function()
    local p, l = setup(35)
    local sa = syn_ack(p, 5006, { mss = 1460 })
    p:send { sport = 5006, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "." }
    p:collect(10000)
    local s = C.tl_accept(l)
    assert(s ~= nil, "nothing to accept")
    p:send { sport = 5006, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = "F." }
    local acks = p:collect(600000)
    local fin_acked = false
    for _, r in ipairs(acks) do if r.ack == ISS + 2 then fin_acked = true end end
    assert.is_true(fin_acked, "FIN not acknowledged")
    assert.are.equal(C.TL_CLOSE_WAIT, C.tl_sock_state(s))
    local buf = ffi.new("uint8_t[16]")
    assert.are.equal(C.TL_ECLOSED, tonumber(C.tl_recv(s, buf, 16, p:now())))
    C.tl_close(s, p:now())
    local fin
    for _, r in ipairs(p:collect(100000)) do if r.flags:find("F") then fin = r end end
    assert.is_not_nil(fin, "no FIN after close")
    assert.are.equal(sa.seq + 1, fin.seq)
    p:send { sport = 5006, dport = PORT, seq = ISS + 2, ack = fin.seq + 1, flags = "." }
    assert.is_nil(p:expect(100000), "answered the last ACK")
  end)
end)
