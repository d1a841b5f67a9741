-- IPv6 codec (RFC 8200): fixed header parse/build, the pseudo-header sum,
-- and the destination's walk of extension headers in every order.
local core = require "tcplua.core"
local P = require "helpers.ipv6pkt"
local C, ffi = core.C, core.ffi

local function parse(s)
  local h = ffi.new("tl_ip6_hdr")
  return C.tl_ip6_parse(s, #s, h), h
end

local function walk(s, flags)
  local w = ffi.new("tl_ip6_chain")
  local r = C.tl_ip6_walk(s, #s, s:byte(7), 6, 40, flags or 0, w)
  return r, w
end

describe("IPv6 fixed header", function()
  it("parses what it builds, flow label and traffic class included", function()
    local h = ffi.new("tl_ip6_hdr", { tclass = 0xb8, next = 58, hop_limit = 7, payload_len = 4, flow = 0xabcde })
    ffi.copy(h.src, P.a6("fd77::1"), 16)
    ffi.copy(h.dst, P.a6("fd77::2"), 16)
    local buf = ffi.new("uint8_t[44]")
    assert.are.equal(40, tonumber(C.tl_ip6_build(buf, h)))
    local s = ffi.string(buf, 40) .. "abcd"
    assert.are.equal(s:sub(1, 40), P.header { tclass = 0xb8, flow = 0xabcde, next = 58, hlim = 7, plen = 4 })
    local r, g = parse(s)
    assert.are.equal(C.TL_IP6_OK, r)
    assert.are.equal(0xb8, g.tclass)
    assert.are.equal(0xabcde, g.flow)
    assert.are.equal(58, g.next)
    assert.are.equal(7, g.hop_limit)
    assert.are.equal(4, g.payload_len)
    assert.are.equal(P.a6("fd77::1"), ffi.string(g.src, 16))
  end)

  it("rejects short datagrams, other versions and a payload length past the bytes", function()
    assert.are.equal(C.TL_IP6_ESHORT, (parse(string.rep("\96", 39))))
    assert.are.equal(C.TL_IP6_EVERSION, (parse(P.header { version = 4 })))
    assert.are.equal(C.TL_IP6_EPLEN, (parse(P.header { plen = 9 } .. "12345678")))
    assert.are.equal(C.TL_IP6_OK, (parse(P.header { plen = 4 } .. "12345678"))) -- link padding is legal
  end)

  it("sums the pseudo-header as RFC 8200 8.1 lays it out", function()
    local msg = P.echo_request(1, 2, "hello")
    local sum = C.tl_csum_pseudo6(P.PEER, P.US, 58, #msg)
    assert.are.equal(0, C.tl_csum_fold(C.tl_csum_partial(msg, #msg, sum)))
    assert.are_not.equal(0, C.tl_csum_fold(C.tl_csum_partial(msg, #msg, C.tl_csum_pseudo6(P.PEER, P.US, 17, #msg))))
    local m2 = P.icmp6(128, 0, "\0\1\0\2", "hello", "fd77::2", "fd77::1")
    assert.are.equal(0, C.tl_csum_fold(C.tl_csum_partial(m2, #m2, C.tl_csum_pseudo6(P.US, P.PEER, 58, #m2))))
  end)

  it("classifies addresses", function()
    assert.are.equal(1, C.tl_ip6_is_multicast(P.a6("ff02::1")))
    assert.are.equal(1, C.tl_ip6_is_unspecified(P.a6("::")))
    assert.are.equal(1, C.tl_ip6_is_loopback(P.a6("::1")))
    assert.are.equal(1, C.tl_ip6_is_v4mapped(P.a6("::ffff:a4d:2")))
    assert.are.equal(0, C.tl_ip6_is_multicast(P.US) + C.tl_ip6_is_loopback(P.US) + C.tl_ip6_is_unspecified(P.US))
  end)
end)

describe("IPv6 extension header walk", function()
  local N = P.NH
  local function dgram(next, body) return P.datagram({ next = next }, body) end

  it("reaches the upper layer through headers in any order", function()
    local body = P.opts(N.DST, "") .. P.opts(N.ROUTING, "") .. P.routing(N.FRAG, 0, 0) ..
        P.frag(N.DST, 0, false) .. P.opts(N.ICMP6, "\5\2\0\0") .. "icmp"
    local r, w = walk(dgram(N.HOP, body))
    assert.are.equal(C.TL_IP6W_UPPER, r)
    assert.are.equal(58, w.proto)
    assert.are.equal(40 + #body - 4, w.off)
    assert.are.equal(5, w.exts)
    assert.are.equal(1, w.atomic) -- RFC 6946: processed in isolation
  end)

  it("stops at a real fragment", function()
    local r, w = walk(dgram(N.DST, P.opts(N.FRAG) .. P.frag(N.ICMP6, 1448, true, 77) .. "data"))
    assert.are.equal(C.TL_IP6W_FRAG, r)
    assert.are.equal(48, w.off)
    assert.are.equal(1448, w.frag_off)
    assert.are.equal(1, w.frag_more)
    assert.are.equal(77, w.frag_id)
  end)

  it("refuses hop-by-hop anywhere but first, pointing at the Next Header naming it", function()
    local r, w = walk(dgram(N.DST, P.opts(N.HOP) .. P.opts(N.ICMP6)))
    assert.are.equal(C.TL_IP6W_EHBH, r)
    assert.are.equal(1, w.code)
    assert.are.equal(40, w.ptr)
  end)

  it("acts on an unknown option by its type's two high bits", function()
    local function opt(t) return walk(dgram(N.DST, P.opts(N.ICMP6, string.char(t, 2, 0, 0)) .. "icmp")) end
    assert.are.equal(C.TL_IP6W_UPPER, (opt(0x1e))) -- 00: skip
    local r, w = opt(0x5e)                         -- 01: silent discard
    assert.are.equal(C.TL_IP6W_EOPT, r)
    assert.are.equal(C.TL_IP6W_SILENT, w.code)
    r, w = opt(0x9e)                               -- 10: parameter problem code 2
    assert.are.equal(C.TL_IP6W_EOPT, r)
    assert.are.equal(2, w.code)
    assert.are.equal(42, w.ptr)
    r, w = opt(0xde) -- 11: as 10, unless the destination was multicast
    assert.are.equal(2, w.code)
    local s = dgram(N.DST, P.opts(N.ICMP6, "\222\2\0\0") .. "icmp")
    local w2 = ffi.new("tl_ip6_chain")
    assert.are.equal(C.TL_IP6W_EOPT, C.tl_ip6_walk(s, #s, N.DST, 6, 40, C.TL_IP6W_MULTICAST, w2))
    assert.are.equal(C.TL_IP6W_SILENT, w2.code)
  end)

  it("discards routing type 0 with segments left (RFC 5095) and ignores it without", function()
    local r, w = walk(dgram(N.ROUTING, P.routing(N.ICMP6, 0, 1) .. "icmp"))
    assert.are.equal(C.TL_IP6W_EROUTE, r)
    assert.are.equal(0, w.code)
    assert.are.equal(42, w.ptr)
    assert.are.equal(C.TL_IP6W_UPPER, (walk(dgram(N.ROUTING, P.routing(N.ICMP6, 0, 0) .. "icmp"))))
  end)

  it("bounds the chain, and drops truncated headers and options", function()
    local body = ""
    for _ = 1, C.TL_IP6_MAX_EXTS + 1 do body = body .. P.opts(N.DST) end
    assert.are.equal(C.TL_IP6W_ECHAIN, (walk(dgram(N.DST, body .. "x"))))
    local ok = ""
    for _ = 1, C.TL_IP6_MAX_EXTS - 1 do ok = ok .. P.opts(N.DST) end
    assert.are.equal(C.TL_IP6W_UPPER, (walk(dgram(N.DST, ok .. P.opts(N.ICMP6)))))
    assert.are.equal(C.TL_IP6W_ETRUNC, (walk(dgram(N.DST, "\58\0\0\0"))))
    assert.are.equal(C.TL_IP6W_ETRUNC, (walk(dgram(N.DST, "\58\1" .. string.rep("\1", 6)))))
    assert.are.equal(C.TL_IP6W_EOPTLEN, (walk(dgram(N.DST, "\58\0\1\9\0\0\0\0"))))
  end)

  it("refuses a fragment header inside a reassembled datagram", function()
    local s = dgram(N.FRAG, P.frag(N.ICMP6, 8, false) .. "data")
    local w = ffi.new("tl_ip6_chain")
    assert.are.equal(C.TL_IP6W_ENESTED, C.tl_ip6_walk(s, #s, N.FRAG, 6, 40, C.TL_IP6W_REASSEMBLED, w))
  end)

  it("never reads past the datagram on random bytes", function()
    math.randomseed(6)
    local w = ffi.new("tl_ip6_chain")
    for _ = 1, 3000 do
      local s = P.header {} .. P.random_bytes(math.random(0, 64))
      local r = C.tl_ip6_walk(s, #s, ({ 0, 43, 44, 60 })[math.random(4)], 6, 40, 0, w)
      assert.is_true(r >= -7 and r <= 1)
      if r >= 0 then assert.is_true(w.off <= #s) end
    end
  end)
end)
