-- UDP over IPv6 (RFC 768 with RFC 8200 8.1's pseudo-header; the checksum
-- is mandatory): the codec with the IPv6 pseudo-header sum, and a bare
-- stack's input and output through the C socket API (api_udp.h's *6
-- calls). Datagrams are fed straight into the stack; what it sends is
-- taken from the sim's raw endpoint.
local core = require "tcplua.core"
local P = require "helpers.ipv6pkt"
local rig = require "helpers.stackrig"
local P4 = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi
local u16 = P.u16

local function setup(tweak) return rig.sim_stack(tweak) end

local function exchange(sim, st, raw, pkts) return rig.exchange(sim, st, raw, pkts, P) end

-- A UDP datagram from fd77::1 to fd77::2; f.csum: a number as is, false
-- for 0, default the right one (0 sent as 0xffff).
local function udp6(sport, dport, payload, f)
  f = f or {}
  local d = u16(sport) .. u16(dport) .. u16(8 + #payload) .. "\0\0" .. payload
  local c = f.csum
  if c == nil then
    c = P.csum6("fd77::1", "fd77::2", 17, d)
    if c == 0 then c = 0xffff end
  elseif c == false then
    c = 0
  end
  return d:sub(1, 6) .. u16(c) .. d:sub(9)
end

local function ip6(payload) return P.datagram({ next = 17 }, payload) end

local function bound(st, port)
  local u = C.tl_udp_open(st, nil)
  assert.equal(0, C.tl_udp_bind6(u, nil, port))
  return u
end

local function recv6(u)
  local buf, a, p = ffi.new("uint8_t[65536]"), ffi.new("uint8_t[16]"), ffi.new("uint16_t[1]")
  local n = tonumber(C.tl_udp_recvfrom6(u, buf, 65536, a, p))
  if n < 0 then return n end
  return ffi.string(buf, n), ffi.string(a, 16), p[0]
end

describe("UDP over IPv6", function()
  it("checksums over the IPv6 pseudo-header as RFC 8200 8.1 writes it", function()
    math.randomseed(9)
    local src, dst = P.a6("fd77::1"), P.a6("fd77::2")
    for n = 0, 40 do
      local s = udp6(1000 + n, 53, P.random_bytes(n), { csum = false })
      local buf = ffi.new("uint8_t[?]", #s)
      ffi.copy(buf, s, #s)
      local pseudo = C.tl_csum_pseudo6(src, dst, 17, #s)
      local want = P.csum6("fd77::1", "fd77::2", 17, s)
      assert.equal(want == 0 and 0xffff or want, C.tl_udp_checksum(buf, #s, pseudo))
      assert.equal(1, C.tl_udp_verify(buf, #s, pseudo))
      -- The IPv4 pseudo-header of the same bytes does not verify.
      assert.equal(0, C.tl_udp_verify(buf, #s, C.tl_udp_pseudo4(P4.addr("10.77.0.1"), P4.addr("10.77.0.2"), #s)))
    end
  end)

  it("delivers a datagram with its IPv6 source; drops a zero checksum and a wrong one, counted", function()
    local sim, st, raw = setup()
    local u = bound(st, 53)
    local out, d = exchange(sim, st, raw, { ip6(udp6(4000, 53, "query")) })
    assert.are.same({}, out)
    assert.are.same({ udp_in = 1, udp6_in = 1, udp_delivered = 1, ip6_in = 1 }, d)
    assert.are.same({ "query", P.a6("fd77::1"), 4000 }, { recv6(u) })
    out, d = exchange(sim, st, raw, { ip6(udp6(4000, 53, "zero", { csum = false })) })
    assert.are.same({}, out)
    assert.are.same({ udp_in = 1, udp6_in = 1, drop_udp6_zero_checksum = 1, ip6_in = 1 }, d)
    out, d = exchange(sim, st, raw, { ip6(udp6(4000, 53, "bad", { csum = 0x1234 })) })
    assert.are.same({ udp_in = 1, udp6_in = 1, drop_udp_checksum = 1, ip6_in = 1 }, d)
    assert.equal(C.TL_EAGAIN, recv6(u))
    C.tl_udp_close(u)
  end)

  it("answers a closed port with ICMPv6 destination unreachable code 4 quoting the datagram", function()
    local sim, st, raw = setup()
    local dgram = ip6(udp6(4000, 9, "anyone?"))
    local out, d = exchange(sim, st, raw, { dgram })
    assert.equal(1, d.udp_no_port)
    assert.equal(1, #out)
    assert.equal(58, out[1].proto)
    local m = P.parse_icmp(out[1].payload, "fd77::2", "fd77::1")
    assert.is_true(m.checksum_ok)
    assert.are.same({ 1, 4 }, { m.type, m.code })
    assert.equal(dgram, m.data)
  end)

  it("sends with a checksum always, fragments over the MTU, and reports ICMPv6 errors to a connected socket", function()
    local sim, st, raw = setup()
    local u = C.tl_udp_open(st, nil)
    assert.equal(0, C.tl_udp_setopt(u, C.TL_UDP_OPT_CHECKSUM, 0)) -- IPv4 only: IPv6 ignores it
    assert.equal(0, C.tl_udp_connect6(u, P.a6("fd77::1"), 7))
    local lp = ffi.new("uint16_t[1]")
    C.tl_udp_addrs6(u, nil, lp, nil, nil)
    local data = string.rep("k", 3000)
    assert.equal(3000, tonumber(C.tl_udp_sendto6(u, data, #data, nil, 0, 0)))
    local out = exchange(sim, st, raw, {})
    assert.is_true(#out >= 3)
    local whole = P.reassemble(out)
    assert.equal(3008, #whole)
    assert.equal(0, P.csum6("fd77::2", "fd77::1", 17, whole))
    assert.equal(data, whole:sub(9))
    -- The peer's port unreachable, quoting our first fragment's start.
    local quote = out[1]
    local raw1 = P.header { src = "fd77::2", dst = "fd77::1", next = 44, payload_len = quote.plen }
      .. P.frag(17, 0, true, quote.frag.id) .. whole:sub(1, 64)
    local err = P.datagram({ next = 58 }, P.icmp6(1, 4, nil, raw1))
    local _, d = exchange(sim, st, raw, { err })
    assert.equal(1, d.udp_icmp_err)
    assert.equal(C.TL_EREFUSED, recv6(u))
    -- Packet too big: the path MTU drops (never below 1280), later datagrams fit it.
    local ptb = P.datagram({ next = 58 }, P.icmp6(2, 0, P.u32(1300), raw1))
    _, d = exchange(sim, st, raw, { ptb })
    assert.equal(1, d.udp_icmp_ignored)
    assert.equal(1300, tonumber(C.tl_ipv6_pmtu(st, P.a6("fd77::1"))))
    assert.equal(3000, tonumber(C.tl_udp_sendto6(u, data, #data, nil, 0, 0)))
    out = exchange(sim, st, raw, {})
    for _, f in ipairs(out) do assert.is_true(40 + f.plen <= 1300) end
    assert.equal(data, P.reassemble(out):sub(9))
    C.tl_udp_close(u)
  end)

  it("keeps a socket bound to one family's address to that family", function()
    local _, st = setup()
    local u = C.tl_udp_open(st, nil)
    assert.equal(C.TL_EINVAL, C.tl_udp_bind6(u, P.a6("fd77::9"), 53)) -- not ours
    assert.equal(0, C.tl_udp_bind6(u, P.a6("fd77::2"), 53))
    assert.equal(C.TL_EINVAL, C.tl_udp_connect(u, P4.addr("10.77.0.1"), 53))
    assert.equal(C.TL_EINVAL, tonumber(C.tl_udp_sendto(u, "x", 1, P4.addr("10.77.0.1"), 53, 0)))
    assert.equal(1, tonumber(C.tl_udp_sendto6(u, "x", 1, P.a6("fd77::1"), 53, 0)))
    C.tl_udp_close(u)
  end)
end)
