-- The segment view over IPv6 datagrams (lua/tcplua/segview.lua): the
-- extension-header chain walked to the transport header (RFC 8200 4),
-- fragments left alone, ICMPv6 and UDP views, writes with the checksums
-- fixed over the IPv6 pseudo-header (RFC 8200 8.1), and segview.build of
-- an IPv6 segment.
local segview = require "tcplua.segview"
local tcppkt = require "helpers.tcppkt"
local P = require "helpers.ipv6pkt"
local ffi = require "ffi"
local N = P.NH

-- A held-segment stand-in: the view reads only pkt and len.
local function seg_of(s)
  local buf = ffi.new("uint8_t[?]", #s + 64)
  ffi.copy(buf, s, #s)
  return { pkt = buf, len = #s }
end

local function tcp_seg(data)
  -- the checksum is fixed below (the helper's is IPv4's)
  return tcppkt.segment { sport = 40000, dport = 7, seq = 1000, ack = 5, flags = "P.", win = 512,
    data = data or "hello" }
end

-- Zeroes and recomputes the TCP checksum over the IPv6 pseudo-header.
local function with_csum6(seg, src, dst)
  local z = seg:sub(1, 16) .. "\0\0" .. seg:sub(19)
  return z:sub(1, 16) .. P.u16(P.csum6(src, dst, 6, z)) .. z:sub(19)
end

local function csum_ok(s, t, proto)
  local msg = s:sub(t + 1)
  return P.csum6(P.str6(s:sub(9, 24)), P.str6(s:sub(25, 40)), proto, msg) == 0
end

describe("segment views over IPv6", function()
  it("read the IPv6 header and the TCP header past hop-by-hop and destination options", function()
    local tcp = with_csum6(tcp_seg(), "fd77::1", "fd77::2")
    local chain = P.opts(N.DST, "") .. P.opts(N.TCP, "")
    local d = P.datagram({ next = N.HOP, src = "fd77::1", dst = "fd77::2", hlim = 33, flow = 0xabcde }, chain .. tcp)
    local v = assert(segview.view(seg_of(d)))
    assert.are.same({ 6, "tcp", "fd77::1", "fd77::2", 33, 33, 0xabcde, 40000, 7, 1000, 5, "P.", 512, 5, "hello" },
      { v.family, v.proto, v.src, v.dst, v.hop_limit, v.ttl, v.flow_label, v.sport, v.dport, v.seq, v.ack, v.flags,
        v.win, v.len, v.payload })
    assert.is_nil(v.id)
    assert.are.equal(#d, v.size)
  end)

  it("take an atomic fragment (RFC 6946) and leave a real fragment alone", function()
    local tcp = with_csum6(tcp_seg(), "fd77::1", "fd77::2")
    local atomic = P.datagram({ next = N.FRAG }, P.frag(N.TCP, 0, false) .. tcp)
    assert.are.equal(7, segview.view(seg_of(atomic)).dport)
    local first = P.datagram({ next = N.FRAG }, P.frag(N.TCP, 0, true) .. tcp)
    assert.is_nil(segview.view(seg_of(first)))
    local later = P.datagram({ next = N.FRAG }, P.frag(N.TCP, 8, false) .. tcp)
    assert.is_nil(segview.view(seg_of(later)))
  end)

  it("refuse a chain past the datagram or a truncated TCP header, never raising", function()
    local bad = P.datagram({ next = N.HOP }, string.char(N.TCP, 200) .. string.rep("\0", 30))
    assert.is_nil(segview.view(seg_of(bad)))
    local short = P.datagram({ next = N.TCP }, string.rep("\0", 12))
    assert.is_nil(segview.view(seg_of(short)))
    local lie = P.header { next = N.TCP, plen = 500 } .. with_csum6(tcp_seg(), "fd77::1", "fd77::2")
    assert.is_nil(segview.view(seg_of(lie)))
  end)

  it("give ICMPv6 messages and UDP datagrams their views", function()
    local echo = P.datagram({ next = N.ICMP6 }, P.echo_request(1, 2, "abcdefgh"))
    local v = assert(segview.view(seg_of(echo)))
    assert.are.same({ "icmp6", 128, 0, 6, 8 }, { v.proto, v.type, v.code, v.family, v.len })
    local udp = P.u16(5000) .. P.u16(53) .. P.u16(12) .. "\0\0" .. "ping"
    local u = assert(segview.view(seg_of(P.datagram({ next = N.UDP }, udp))))
    assert.are.same({ "udp", 5000, 53, 4, "ping", 6 }, { u.proto, u.sport, u.dport, u.len, u.payload, u.family })
  end)

  it("writes fields and fixes the TCP checksum over the IPv6 pseudo-header", function()
    local chain = P.opts(N.TCP, "")
    local d = P.datagram({ next = N.HOP }, chain .. with_csum6(tcp_seg(), "fd77::1", "fd77::2"))
    local s = seg_of(d)
    local v = assert(segview.view(s))
    v.win, v.src, v.flow_label, v.hop_limit = 1000, "fd77::99", 7, 9
    assert.has_error(function() v.id = 1 end)
    require("tcplua.c.hook").fix_checksums(s.pkt, s.len)
    local out = ffi.string(s.pkt, s.len)
    assert.is_true(csum_ok(out, 48, 6))
    local w = assert(segview.view(s))
    assert.are.same({ 1000, "fd77::99", 7, 9 }, { w.win, w.src, w.flow_label, w.ttl })
  end)

  it("builds an IPv6 segment from a table of fields", function()
    local buf = ffi.new("uint8_t[65536]")
    local n = segview.build({ src = "fd77::2", dst = "fd77::1", sport = 7, dport = 40000, seq = 9, flags = "R.",
      hop_limit = 5, flow_label = 0x54321, payload = "xy" }, buf)
    local s = ffi.string(buf, n)
    assert.are.equal(40 + 20 + 2, n)
    assert.is_true(csum_ok(s, 40, 6))
    local v = assert(segview.view({ pkt = buf, len = n }))
    assert.are.same({ "fd77::2", "fd77::1", 7, 40000, 9, "R.", 5, 0x54321, "xy" },
      { v.src, v.dst, v.sport, v.dport, v.seq, v.flags, v.hop_limit, v.flow_label, v.payload })
  end)
end)
