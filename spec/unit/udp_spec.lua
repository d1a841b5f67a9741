-- UDP (RFC 768): the codec in core/wire/udp_wire.c, and the stack's input
-- validation, each malformation dropped under its own counter
-- (core/udp/udp_io.c). Datagrams are fed to a bare stack; sockets are the
-- C API's (api_udp.h).
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local rig = require "helpers.stackrig"
local C, ffi = core.C, core.ffi
local u16 = P.u16

local US, PEER = P.addr("10.77.0.2"), P.addr("10.77.0.1")

local new_stack, feed = rig.new_stack, rig.feed



-- The RFC 768 checksum in Lua: pseudo-header (src, dst, 0, 17, length),
-- then the datagram with its checksum field as given.
local function ref_csum(src, dst, dgram)
  return P.csum(P.u32(src) .. P.u32(dst) .. "\0\17" .. u16(#dgram) .. dgram)
end

-- A UDP datagram: ports, payload; fields: len (length field), csum
-- (number: as is; false: 0; default: correct, 0 sent as 0xffff).
local function udp(sport, dport, payload, f)
  f = f or {}
  local len = f.len or 8 + #payload
  local d = u16(sport) .. u16(dport) .. u16(len) .. "\0\0" .. payload
  local c = f.csum
  if c == nil then
    c = ref_csum(PEER, US, d)
    if c == 0 then c = 0xffff end
  elseif c == false then
    c = 0
  end
  return d:sub(1, 6) .. u16(c) .. d:sub(9)
end

local function ip(payload, extra) return P.datagram({ proto = 17, src = PEER, dst = US }, payload .. (extra or "")) end

describe("UDP codec", function()
  it("parses what tl_udp_build wrote", function()
    math.randomseed(3)
    local buf = ffi.new("uint8_t[64]")
    local h = ffi.new("struct tl_udp_hdr")
    for _ = 1, 200 do
      local sp, dp, n = math.random(0, 65535), math.random(0, 65535), math.random(0, 40)
      assert.equal(8, tonumber(C.tl_udp_build(buf, sp, dp, 8 + n)))
      assert.equal(C.TL_UDP_OK, C.tl_udp_parse(buf, 8 + n, h))
      assert.are.same({ sp, dp, 8 + n, n }, { h.sport, h.dport, h.len, tonumber(h.data_len) })
      assert.is_true(h.data == buf + 8)
    end
  end)

  it("refuses a datagram shorter than its header, and length fields below 8 or beyond the bytes", function()
    local h = ffi.new("struct tl_udp_hdr")
    local d = udp(1, 2, "abcd")
    assert.equal(C.TL_UDP_ESHORT, C.tl_udp_parse(d, 7, h))
    assert.equal(C.TL_UDP_ELEN, C.tl_udp_parse(udp(1, 2, "abcd", { len = 7 }), 12, h))
    assert.equal(C.TL_UDP_ELEN, C.tl_udp_parse(udp(1, 2, "abcd", { len = 13 }), 12, h))
    -- Bytes past the length field are the IP payload's, not the datagram's.
    assert.equal(C.TL_UDP_OK, C.tl_udp_parse(d .. "pad", 15, h))
    assert.equal(4, tonumber(h.data_len))
  end)

  it("computes the RFC 768 checksum over the pseudo-header, and verifies it", function()
    math.randomseed(5)
    for n = 0, 50 do
      local s = udp(1000 + n, 53, P.random_bytes(n), { csum = false })
      local buf = ffi.new("uint8_t[?]", #s)
      ffi.copy(buf, s, #s)
      local pseudo = C.tl_udp_pseudo4(PEER, US, #s)
      local c = C.tl_udp_checksum(buf, #s, pseudo)
      local want = ref_csum(PEER, US, s)
      assert.equal(want == 0 and 0xffff or want, c)
      assert.equal(1, C.tl_udp_verify(buf, #s, pseudo))
      buf[#s - 1 > 7 and #s - 1 or 0] = bit.bxor(buf[#s - 1 > 7 and #s - 1 or 0], 4)
      assert.equal(0, C.tl_udp_verify(buf, #s, pseudo))
    end
  end)

  it("sends a computed zero as 0xffff, which verifies; a zero field is left to the caller", function()
    -- A payload word equal to the checksum of the datagram without it
    -- makes the sum all ones: the computed checksum is 0.
    local c0 = ref_csum(PEER, US, udp(7, 7, "\0\0", { csum = false }))
    local s = udp(7, 7, u16(c0), { csum = false })
    assert.equal(0, ref_csum(PEER, US, s))
    local buf = ffi.new("uint8_t[10]")
    ffi.copy(buf, s, 10)
    local pseudo = C.tl_udp_pseudo4(PEER, US, 10)
    assert.equal(0xffff, C.tl_udp_checksum(buf, 10, pseudo))
    assert.equal(1, C.tl_udp_verify(buf, 10, pseudo))
    ffi.copy(buf, s, 10)
    assert.equal(0, C.tl_udp_verify(buf, 10, pseudo))
  end)
end)

describe("UDP input", function()
  local st, u
  before_each(function()
    st = new_stack()
    u = C.tl_udp_open(st, nil)
    assert.equal(0, C.tl_udp_bind(u, 0, 53))
  end)

  local function recv()
    local buf, a, p = ffi.new("uint8_t[65536]"), ffi.new("uint32_t[1]"), ffi.new("uint16_t[1]")
    local n = tonumber(C.tl_udp_recvfrom(u, buf, 65536, a, p))
    if n < 0 then return nil, n end
    return ffi.string(buf, n), a[0], p[0]
  end

  it("queues a good datagram with its source, and reports the socket ready", function()
    assert.are.same({ udp_in = 1, udp_delivered = 1, ip_in = 1 }, feed(st, ip(udp(4000, 53, "query"))))
    assert.equal(1, C.tl_stack_pending_events(st))
    local ev = ffi.new("tl_udp_event")
    assert.equal(1, C.tl_udp_next_event(st, ev))
    assert.is_true(ev.sock == u)
    assert.equal(C.TL_UDP_EV_READABLE, ev.mask)
    assert.are.same({ "query", PEER, 4000 }, { recv() })
    assert.are.same({ nil, C.TL_EAGAIN }, { recv() })
  end)

  it("takes a zero checksum as none (RFC 768 over IPv4), and counts it", function()
    assert.are.same({ udp_in = 1, udp_delivered = 1, udp_no_checksum_in = 1, ip_in = 1 },
      feed(st, ip(udp(4000, 53, "nocsum", { csum = false }))))
    assert.equal("nocsum", (recv()))
  end)

  it("takes 0xffff for a computed zero", function()
    local c0 = ref_csum(PEER, US, udp(4000, 53, "\0\0", { csum = false }))
    local d = udp(4000, 53, u16(c0))
    assert.equal(0xffff, P.get16(d, 7))
    assert.equal(1, feed(st, ip(d)).udp_delivered)
  end)

  it("drops and counts a bad checksum, a short header, and bad length fields", function()
    local d = udp(4000, 53, "hello")
    local bad = d:sub(1, 12) .. "j" .. d:sub(14)
    assert.are.same({ udp_in = 1, drop_udp_checksum = 1, ip_in = 1 }, feed(st, ip(bad)))
    assert.are.same({ udp_in = 1, drop_udp_short = 1, ip_in = 1 }, feed(st, ip(d:sub(1, 7))))
    assert.are.same({ udp_in = 1, drop_udp_len = 1, ip_in = 1 }, feed(st, ip(udp(4000, 53, "hello", { len = 14 }))))
    assert.are.same({ udp_in = 1, drop_udp_len = 1, ip_in = 1 }, feed(st, ip(udp(4000, 53, "hello", { len = 5 }))))
    assert.equal(0, tonumber(C.tl_udp_queued(u)))
  end)

  it("delivers only the length field's bytes when IP carries more", function()
    assert.equal(1, feed(st, ip(udp(4000, 53, "abc"), "trailing")).udp_delivered)
    assert.equal("abc", (recv()))
  end)

  it("answers a closed port with ICMP port unreachable", function()
    local d = feed(st, ip(udp(4000, 54, "x")))
    assert.equal(1, d.udp_no_port)
    assert.equal(1, d.icmp_err_out)
  end)

  it("drops what the receive queue cannot hold, counted on the stack and the socket", function()
    local v = ffi.new("tl_udp *[1]")
    v[0] = C.tl_udp_open(st, nil)
    assert.equal(0, C.tl_udp_setopt(v[0], C.TL_UDP_OPT_RCVBUF, 65531))
    assert.equal(0, C.tl_udp_bind(v[0], 0, 99))
    local big = string.rep("z", 30000)
    for _ = 1, 3 do feed(st, ip(udp(4000, 99, big))) end
    assert.equal(2, tonumber(C.tl_udp_queued(v[0])))
    assert.equal(1, tonumber(C.tl_udp_drops(v[0])))
    assert.equal(1, core.stats(st).drop_udp_rcvq_full)
    -- Taking one makes room again.
    local buf = ffi.new("uint8_t[10]")
    assert.equal(30000, tonumber(C.tl_udp_recvfrom(v[0], buf, 10, nil, nil)))
    assert.equal(1, feed(st, ip(udp(4000, 99, big))).udp_delivered)
    C.tl_udp_close(v[0])
  end)

  it("refuses a second socket on a bound port, and picks distinct ephemeral ports", function()
    local v = C.tl_udp_open(st, nil)
    assert.equal(C.TL_EADDRINUSE, C.tl_udp_bind(v, 0, 53))
    assert.equal(C.TL_EINVAL, C.tl_udp_bind(v, P.addr("10.9.9.9"), 60))
    assert.equal(0, C.tl_udp_bind(v, 0, 0))
    local w = C.tl_udp_open(st, nil)
    assert.equal(0, C.tl_udp_connect(w, PEER, 9))
    local p1, p2 = ffi.new("uint16_t[1]"), ffi.new("uint16_t[1]")
    C.tl_udp_addrs(v, nil, p1, nil, nil)
    C.tl_udp_addrs(w, nil, p2, nil, nil)
    assert.is_true(p1[0] >= 49152 and p2[0] >= 49152 and p1[0] ~= p2[0])
    assert.equal(3, tonumber(C.tl_udp_count(st)))
    C.tl_udp_close(v)
    C.tl_udp_close(w)
    assert.equal(1, tonumber(C.tl_udp_count(st)))
  end)
end)
