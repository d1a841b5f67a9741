-- The gateway's forwarder and flow table (core/fwd/, api_fwd.h) driven
-- through the C API: RFC 1812 TTL handling with the RFC 1624 checksum
-- update, ICMP errors, fragmentation, offload facts, the passive flow
-- table's states and counts, and flow resets.
local core = require "tcplua.core"
local segview = require "tcplua.segview"
local C, ffi = core.C, core.ffi

local A, B = "10.78.1.2", "10.78.2.2"

local function build(t)
  local buf = ffi.new("uint8_t[65536]")
  local n = segview.build(t, buf)
  return buf, n
end

local function rd16(p, o) return p[o] * 256 + p[o + 1] end
local function rd32(p, o) return ((p[o] * 256 + p[o + 1]) * 256 + p[o + 2]) * 256 + p[o + 3] end

-- A gateway stack whose output is recorded: { side, bytes, gso, partial }.
local function gateway(mtu_b)
  local st = C.tl_stack_new(nil, nil, nil)
  local cfg = ffi.new("tl_gw_config")
  cfg.net[0], cfg.net[1] = core.ip("10.78.1.0"), core.ip("10.78.2.0")
  cfg.prefix[0], cfg.prefix[1] = 24, 24
  cfg.addr[0], cfg.addr[1] = core.ip("10.78.1.1"), core.ip("10.78.2.1")
  cfg.mtu[0], cfg.mtu[1] = 1500, mtu_b or 1500
  local out = {}
  local cb = ffi.cast("tl_gw_out_fn", function(_, side, pkt, len, off)
    out[#out + 1] = { side = side, bytes = ffi.string(pkt, len), gso = off ~= nil and off.gso_size or 0,
      partial = off ~= nil and off.csum_partial ~= 0 }
    return 0
  end)
  assert.are.equal(0, C.tl_gw_attach(st, cfg, cb, nil))
  return st, out, function()
    C.tl_stack_free(st)
    cb:free()
  end
end

local function stat(st, name)
  for i = 0, C.tl_stats_count() - 1 do
    if ffi.string(C.tl_stats_name(i)) == name then return tonumber(C.tl_stats_get(st, i)) end
  end
  error("no counter " .. name)
end

local function bytes(s) return ffi.cast("const uint8_t *", s) end

describe("gateway: RFC 1812 forwarding", function()
  it("decrements the TTL with an incremental checksum equal to a full one (RFC 1624)", function()
    for ttl = 2, 255, 7 do
      local buf = build { src = A, dst = B, sport = 1, dport = 2, ttl = ttl, id = ttl * 97 }
      assert.are.equal(0, C.tl_gw_ttl_dec(buf))
      assert.are.equal(ttl - 1, buf[8])
      assert.are.equal(0, C.tl_csum(buf, 20))
    end
    local buf = build { src = A, dst = B, sport = 1, dport = 2, ttl = 1 }
    assert.are.equal(-1, C.tl_gw_ttl_dec(buf))
  end)

  it("forwards by destination, TTL one less, header checksum valid", function()
    local st, out, free = gateway()
    finally(free)
    local buf, n = build { src = A, dst = B, sport = 40000, dport = 80, flags = "S", seq = 7, ttl = 64 }
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    assert.are.equal(1, #out)
    assert.are.equal(1, out[1].side)
    local p = bytes(out[1].bytes)
    assert.are.equal(63, p[8])
    assert.are.equal(0, C.tl_csum(p, 20))
    buf, n = build { src = B, dst = A, sport = 80, dport = 40000, flags = "S.", seq = 9, ack = 8 }
    C.tl_gw_input(st, 1, buf, n, 0, nil)
    assert.are.equal(0, out[2].side)
    assert.are.equal(2, stat(st, "fwd_out"))
  end)

  it("answers an expiring TTL with ICMP time exceeded from its own address on that side", function()
    local st, out, free = gateway()
    finally(free)
    local buf, n = build { src = A, dst = B, sport = 40000, dport = 80, flags = "S", ttl = 1 }
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    assert.are.equal(1, #out)
    local p = bytes(out[1].bytes)
    assert.are.equal(0, out[1].side)
    assert.are.equal(1, p[9])                         -- ICMP
    assert.are.equal(core.ip("10.78.1.1"), rd32(p, 12))
    assert.are.equal(core.ip(A), rd32(p, 16))
    assert.are.same({ 11, 0 }, { p[20], p[21] })      -- time exceeded in transit
    assert.are.equal(0, C.tl_csum(p + 20, #out[1].bytes - 20))
    assert.are.equal(out[1].bytes:sub(29), ffi.string(buf, n)) -- the whole datagram quoted (< 576)
    assert.are.equal(1, stat(st, "fwd_ttl_exceeded"))
  end)

  it("answers an echo request to its own address, from that address (RFC 1812 4.3.3.6)", function()
    local st, out, free = gateway()
    finally(free)
    local buf = ffi.new("uint8_t[64]")
    local pkt = { 0x45, 0, 0, 36, 0, 1, 0, 0, 64, 1, 0, 0, 10, 78, 1, 2, 10, 78, 2, 1,
      8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8 }
    for i = 1, #pkt do buf[i - 1] = pkt[i] end
    local h = C.tl_csum(buf, 20)
    buf[10], buf[11] = math.floor(h / 256), h % 256
    h = C.tl_csum(buf + 20, 16)
    buf[22], buf[23] = math.floor(h / 256), h % 256
    C.tl_gw_input(st, 0, buf, 36, 0, nil)
    assert.are.equal(1, #out)
    local p = bytes(out[1].bytes)
    assert.are.equal(0, out[1].side)
    assert.are.equal(0, p[20]) -- echo reply
    assert.are.equal(core.ip("10.78.2.1"), rd32(p, 12))
    assert.are.equal(core.ip(A), rd32(p, 16))
    assert.are.equal(0, C.tl_csum(p, 20))
    assert.are.equal(0, C.tl_csum(p + 20, 16))
    assert.are.equal(out[1].bytes:sub(25), ffi.string(buf + 24, 12)) -- id, sequence and data echoed
    local b2, n = build { src = A, dst = "10.78.1.1", sport = 1, dport = 22, flags = "S" }
    C.tl_gw_input(st, 0, b2, n, 0, nil)
    assert.are.equal(1, #out)
    assert.are.equal(1, stat(st, "fwd_local_drop"))
  end)

  it("sends no ICMP error about an ICMP error (RFC 1812 4.3.2.7)", function()
    local st, out, free = gateway()
    finally(free)
    local buf = ffi.new("uint8_t[64]")
    local pkt = { 0x45, 0, 0, 36, 0, 0, 0, 0, 1, 1, 0, 0, 10, 78, 1, 2, 10, 78, 2, 2, 11, 0, 0, 0 }
    for i = 1, #pkt do buf[i - 1] = pkt[i] end
    local h = C.tl_csum(buf, 20)
    buf[10], buf[11] = math.floor(h / 256), h % 256
    C.tl_gw_input(st, 0, buf, 36, 0, nil)
    assert.are.equal(0, #out)
    assert.are.equal(1, stat(st, "fwd_ttl_exceeded"))
  end)

  it("drops bad headers and martians, counted", function()
    local st, out, free = gateway()
    finally(free)
    local buf, n = build { src = A, dst = B, sport = 1, dport = 2 }
    buf[10] = bit.bxor(buf[10], 1)
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    buf, n = build { src = "127.0.0.1", dst = B, sport = 1, dport = 2 }
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    assert.are.equal(0, #out)
    assert.are.equal(1, stat(st, "drop_fwd_header"))
    assert.are.equal(1, stat(st, "drop_fwd_martian"))
  end)

  it("answers a DF datagram over the next hop's MTU with fragmentation needed and that MTU (RFC 1191)", function()
    local st, out, free = gateway(1280)
    finally(free)
    local buf, n = build { src = A, dst = B, sport = 1, dport = 2, payload = string.rep("x", 1400) }
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    assert.are.equal(1, #out)
    local p = bytes(out[1].bytes)
    assert.are.same({ 3, 4 }, { p[20], p[21] })
    assert.are.equal(1280, rd16(p, 26))
    assert.is_true(#out[1].bytes <= 576)
    assert.are.equal(1, stat(st, "fwd_frag_needed"))
  end)

  it("fragments a datagram without DF: pieces fit, offsets add up, payload intact (RFC 791 3.2)", function()
    local st, out, free = gateway(1280)
    finally(free)
    local payload = {}
    for i = 1, 3000 do payload[i] = string.char(i % 251) end
    payload = table.concat(payload)
    local buf, n = build { src = A, dst = B, sport = 1, dport = 2, payload = payload }
    buf[6] = 0 -- clear DF
    buf[9] = 17 -- not TCP: a TCP datagram over its own link's MTU would be taken for a super-packet
    C.tl_hook_fix_checksums(buf, n)
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    assert.is_true(#out >= 3)
    local got, want_off = {}, 0
    for i, o in ipairs(out) do
      local p = bytes(o.bytes)
      assert.is_true(#o.bytes <= 1280)
      assert.are.equal(0, C.tl_csum(p, 20))
      local ff = rd16(p, 6)
      assert.are.equal(want_off, (ff % 8192) * 8)
      assert.are.equal(i < #out, math.floor(ff / 8192) % 2 == 1, "fragment " .. i .. "/" .. #out .. " flags " .. ff) -- MF on all but the last
      got[#got + 1] = o.bytes:sub(21)
      want_off = want_off + #o.bytes - 20
    end
    assert.are.equal(ffi.string(buf + 20, n - 20), table.concat(got))
  end)

  it("keeps a GSO super-packet whole with its offload facts", function()
    local st, out, free = gateway()
    finally(free)
    local buf, n = build { src = A, dst = B, sport = 1, dport = 2, flags = ".", payload = string.rep("y", 20000) }
    local off = ffi.new("tl_gw_off", { gso_size = 1448, csum_partial = 1 })
    C.tl_gw_input(st, 0, buf, n, 0, off)
    assert.are.equal(1, #out)
    assert.are.equal(n, #out[1].bytes)
    assert.are.equal(1448, out[1].gso)
    assert.is_true(out[1].partial)
    assert.are.equal(1, stat(st, "fwd_gso"))
  end)
end)

describe("gateway: the link boundary", function()
  it("holds datagrams for the hooks with their side, and sends them on by destination when released", function()
    local st, out, free = gateway()
    finally(free)
    assert.are.equal(0, C.tl_hook_enable(st, C.TL_HOOK_IN))
    assert.are.equal(0, C.tl_gw_direct(st))
    local buf, n = build { src = B, dst = A, sport = 80, dport = 40000, flags = "S.", seq = 1, ack = 2 }
    C.tl_gw_input(st, 1, buf, n, 0, nil)
    assert.are.equal(0, #out)
    local seg = C.tl_hook_next(st)
    assert.are.equal(1, seg.side)
    C.tl_hook_release(st, seg, 1, 0, nil, 0)
    assert.are.equal(1, #out)
    assert.are.equal(0, out[1].side)
    assert.are.equal(63, bytes(out[1].bytes)[8])
  end)

  it("applies a side's impairment to the datagrams from that side only", function()
    local st, out, free = gateway()
    finally(free)
    local ic = ffi.new("tl_impair_config", { loss = 1.0, reorder_gap = 3, queue_max = 64 })
    assert.are.equal(0, C.tl_hook_set_impair_side(st, 1, ic, 1))
    local buf, n = build { src = A, dst = B, sport = 1, dport = 2 }
    C.tl_gw_input(st, 0, buf, n, 0, nil)
    buf, n = build { src = B, dst = A, sport = 2, dport = 1 }
    C.tl_gw_input(st, 1, buf, n, 0, nil)
    assert.are.equal(1, #out)
    assert.are.equal(1, out[1].side) -- a -> b went through; b -> a was lost
    assert.are.equal(1, tonumber(C.tl_impair_count(C.tl_hook_impair(st, 2), 2)))
    assert.is_true(C.tl_hook_impair(st, 0) == nil)
  end)
end)

describe("gateway: passive flow table", function()
  local function seg(t)
    local buf, n = build(t)
    return buf, n
  end
  local c = { src = A, dst = B, sport = 40000, dport = 80 }
  local s = { src = B, dst = A, sport = 80, dport = 40000 }
  local function with(base, t)
    local r = {}
    for k, v in pairs(base) do r[k] = v end
    for k, v in pairs(t) do r[k] = v end
    return r
  end

  it("follows a connection from SYN to both FINs acknowledged, with bytes, segments and retransmissions", function()
    local ft = ffi.gc(C.tl_flow_table_new(16), C.tl_flow_table_free)
    local function feed(t, side)
      local buf, n = seg(t)
      return C.tl_flow_observe(ft, buf, n, side, 0, 0)
    end
    local f = feed(with(c, { flags = "S", seq = 100 }), 0)
    assert.are.equal(C.TL_FLOW_SYN_SENT, f.state)
    feed(with(c, { flags = "S", seq = 100 }), 0) -- the SYN again: a retransmission
    assert.are.equal(2, f.syns)
    feed(with(s, { flags = "S.", seq = 5000, ack = 101 }), 1)
    assert.are.equal(C.TL_FLOW_SYN_RCVD, f.state)
    feed(with(c, { flags = ".", seq = 101, ack = 5001 }), 0)
    assert.are.equal(C.TL_FLOW_ESTABLISHED, f.state)
    feed(with(c, { flags = "P.", seq = 101, ack = 5001, payload = string.rep("q", 100) }), 0)
    feed(with(s, { flags = ".", seq = 5001, ack = 201, payload = string.rep("r", 1000) }), 1)
    feed(with(s, { flags = ".", seq = 5001, ack = 201, payload = string.rep("r", 1000) }), 1) -- resent
    assert.are.equal(100, tonumber(f.bytes[0]))
    assert.are.equal(2000, tonumber(f.bytes[1]))
    assert.are.equal(1, tonumber(f.retx[1]))
    assert.are.equal(0, tonumber(f.retx[0]))
    assert.are.equal(6001, f.nxt[1])
    feed(with(s, { flags = "F.", seq = 6001, ack = 201 }), 1)
    assert.are.equal(C.TL_FLOW_FIN_WAIT, f.state)
    feed(with(c, { flags = "F.", seq = 201, ack = 6002 }), 0)
    assert.are.equal(C.TL_FLOW_CLOSING, f.state)
    feed(with(s, { flags = ".", seq = 6002, ack = 202 }), 1)
    assert.are.equal(C.TL_FLOW_CLOSED, f.state)
    assert.are.equal(0, f.side)
    assert.are.equal(core.ip(A), f.addr[0])
    assert.are.equal(40000, f.port[0])
  end)

  it("counts a super-packet as its wire segments, and marks an RST", function()
    local ft = ffi.gc(C.tl_flow_table_new(16), C.tl_flow_table_free)
    local buf, n = seg(with(s, { flags = ".", seq = 1, ack = 1, payload = string.rep("z", 14480) }))
    local f = C.tl_flow_observe(ft, buf, n, 1, 1448, 0)
    assert.are.equal(10, tonumber(f.segs[1]))
    assert.are.equal(1, f.midstream)
    assert.are.equal(core.ip(A), f.addr[0]) -- the higher port is the client
    buf, n = seg(with(c, { flags = "R", seq = 1 }))
    C.tl_flow_observe(ft, buf, n, 0, 0, 0)
    assert.are.equal(C.TL_FLOW_RESET, f.state)
    assert.are.equal(1, f.rst)
  end)

  it("recycles the least recently seen flow when full", function()
    local ft = ffi.gc(C.tl_flow_table_new(16), C.tl_flow_table_free)
    for i = 1, 20 do
      local buf, n = seg(with(c, { flags = "S", seq = i, sport = 1000 + i }))
      assert.is_not_nil(C.tl_flow_observe(ft, buf, n, 0, 0, i))
    end
    local buf, n = seg(with(c, { flags = "S", seq = 20, sport = 1020 }))
    assert.is_not_nil(C.tl_flow_lookup(ft, buf, n, nil))
    buf, n = seg(with(c, { flags = "S", seq = 1, sport = 1001 }))
    assert.is_nil(C.tl_flow_lookup(ft, buf, n, nil) ~= nil and true or nil)
  end)

  it("resets a flow at both ends with the sequence numbers each end expects", function()
    local st, out, free = gateway()
    finally(free)
    local function feed(t, side)
      local buf, n = seg(t)
      C.tl_gw_input(st, side, buf, n, 0, nil)
      return buf, n
    end
    feed(with(c, { flags = "S", seq = 100 }), 0)
    feed(with(s, { flags = "S.", seq = 5000, ack = 101 }), 1)
    feed(with(c, { flags = ".", seq = 101, ack = 5001 }), 0)
    feed(with(c, { flags = "P.", seq = 101, ack = 5001, payload = string.rep("q", 10) }), 0)
    feed(with(s, { flags = ".", seq = 5001, ack = 111 }), 1)
    local buf, n = feed(with(s, { flags = ".", seq = 5001, ack = 111, payload = string.rep("r", 500) }), 1)
    local before = #out
    assert.is_true(C.tl_gw_reset(st, buf, n, 0) >= 2)
    local to_server, to_client = {}, {}
    for i = before + 1, #out do
      local p = bytes(out[i].bytes)
      assert.are.equal(0x14, p[33]) -- RST+ACK
      local h = ffi.new("struct tl_tcp_hdr")
      assert.are.equal(0, C.tl_tcp_parse(p + 20, #out[i].bytes - 20, rd32(p, 12), rd32(p, 16), h))
      if out[i].side == 1 then to_server[rd32(p, 24)] = true else to_client[rd32(p, 24)] = true end
    end
    assert.is_true(to_server[111])  -- the server's rcv.nxt: its last ACK
    assert.is_true(to_client[5001]) -- the client's: the dropped segment's sequence
    local f = C.tl_gw_flow(st, buf, n, nil)
    assert.are.equal(C.TL_FLOW_RESET, f.state)
    assert.are.equal(3, f.rst)
  end)
end)
