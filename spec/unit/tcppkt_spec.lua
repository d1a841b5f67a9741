-- The Lua packet crafting helper for scripted peers, checked against the C
-- codec (they are written independently).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local function cparse_ip(bytes)
  local ihl = (bytes:byte(1) % 16) * 4
  local seg = bytes:sub(ihl + 1)
  local buf = ffi.new("uint8_t[?]", #seg)
  ffi.copy(buf, seg, #seg)
  local h = ffi.new("struct tl_tcp_hdr")
  local src = core.ip(core.ipstr((((bytes:byte(13) * 256) + bytes:byte(14)) * 256 + bytes:byte(15)) * 256 + bytes:byte(16)))
  local dst = (((bytes:byte(17) * 256) + bytes:byte(18)) * 256 + bytes:byte(19)) * 256 + bytes:byte(20)
  return C.tl_tcp_parse(buf, #seg, src, dst, h), h
end

describe("tcppkt helper", function()
  it("converts flags both ways like tcpdump", function()
    for _, f in ipairs({ "S", "S.", ".", "P.", "F.", "R", "R.", "FP.", "none" }) do
      assert.are.equal(f, pkt.flagstr(pkt.flagbits(f)))
    end
    assert.are.equal(0x12, pkt.flagbits("S."))
    local out = ffi.new("char[8]")
    for b = 0, 127 do
      assert.are.equal(ffi.string(C.tl_tcp_flags_str(b, out)), pkt.flagstr(b))
    end
  end)

  it("builds a SYN the C codec parses with every option", function()
    local bytes = pkt.build { src = "10.0.0.1", dst = "10.0.0.2", sport = 4000, dport = 7, seq = 0xfffffff0,
      flags = "S", win = 29200, mss = 1460, wscale = 7, sackok = true, ts = { 11, 0 } }
    assert.are.equal(20 + 40, #bytes)
    assert.are.equal(0, C.tl_csum(bytes, 20)) -- IPv4 header checksum
    local rc, h = cparse_ip(bytes)
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(4000, h.sport); assert.are.equal(7, h.dport)
    assert.are.equal(0xfffffff0, h.seq)
    assert.are.equal(C.TL_TH_SYN, h.flags)
    assert.are.equal(29200, h.win)
    assert.are.equal(1460, h.opt.mss)
    assert.are.equal(7, h.opt.wscale)
    assert.are.equal(1, h.opt.sack_ok)
    assert.are.equal(11, h.opt.ts_val)
  end)

  it("round-trips data, SACK blocks and urgent pointer through build and parse", function()
    local t = { src = "192.168.1.9", dst = "10.77.0.2", sport = 65535, dport = 1, seq = 1, ack = 0xffffffff,
      flags = "P.", win = 1, ts = { 1, 2 }, sack = { { 10, 20 }, { 30, 40 } }, data = "odd", urg = 3 }
    local bytes = pkt.build(t)
    assert.are.equal(C.TL_TCP_OK, (cparse_ip(bytes)))
    local p = assert(pkt.parse(bytes))
    for _, k in ipairs({ "src", "dst", "sport", "dport", "seq", "ack", "flags", "win", "data", "urg" }) do
      assert.are.equal(t[k], p[k], k)
    end
    assert.are.same(t.ts, p.ts)
    assert.are.same(t.sack, p.sack)
    assert.is_true(p.csum_ok)
    assert.is_true(p.ip_csum_ok)
    assert.are.equal(6, p.proto)
  end)

  it("parses what the C codec builds", function()
    local h = ffi.new("struct tl_tcp_hdr")
    h.sport, h.dport, h.seq, h.ack, h.flags, h.win = 7, 4000, 99, 101, C.TL_TH_SYN + C.TL_TH_ACK, 65535
    h.opt.has_mss, h.opt.mss, h.opt.has_wscale, h.opt.wscale, h.opt.sack_ok = 1, 1460, 1, 2, 1
    local seg = ffi.new("uint8_t[64]")
    local hl = tonumber(C.tl_tcp_build(seg, h))
    C.tl_tcp_checksum(seg, hl, core.ip("10.0.0.2"), core.ip("10.0.0.1"))
    local ip = pkt.build { src = "10.0.0.2", dst = "10.0.0.1" } -- borrow an IP header, fix lengths
    local total = 20 + hl
    local iph = ip:sub(1, 2) .. string.char(math.floor(total / 256), total % 256) .. ip:sub(5, 10) .. "\0\0" .. ip:sub(13, 20)
    local sum = C.tl_csum(iph, 20)
    iph = iph:sub(1, 10) .. string.char(math.floor(sum / 256), sum % 256) .. iph:sub(13)
    local p = assert(pkt.parse(iph .. ffi.string(seg, hl)))
    assert.are.equal("S.", p.flags)
    assert.are.equal(1460, p.mss); assert.are.equal(2, p.wscale); assert.is_true(p.sackok)
    assert.are.equal(101, p.ack)
    assert.is_true(p.csum_ok)
    assert.is_true(p.ip_csum_ok)
  end)

  it("makes bad checksums and raw options on request", function()
    local bytes = pkt.build { sport = 1, dport = 2, flags = "S", bad_csum = true }
    assert.are.equal(C.TL_TCP_ECSUM, (cparse_ip(bytes)))
    assert.is_false(pkt.parse(bytes).csum_ok)
    -- an unknown option (kind 254, 4 bytes) is carried and reported
    bytes = pkt.build { sport = 1, dport = 2, flags = "S", mss = 1000, opts = "\254\4\0\0" }
    local rc, h = cparse_ip(bytes)
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(1, h.opt.unknown)
    assert.are.same({ 254 }, pkt.parse(bytes).unknown)
    -- a malformed option reaches the C parser as such
    bytes = pkt.build { sport = 1, dport = 2, opts = "\2\0" }
    assert.are.equal(C.TL_TCP_EOPT, (cparse_ip(bytes)))
    assert.is_nil((pkt.parse(bytes)))
  end)

  it("refuses what is not IPv4/TCP with a reason", function()
    local ok, err = pkt.parse("short")
    assert.is_nil(ok); assert.matches("short", err)
    local udp = pkt.build { proto = 17 }
    ok, err = pkt.parse(udp)
    assert.is_nil(ok); assert.matches("not TCP", err)
  end)

  it("describes a segment in one line", function()
    local p = assert(pkt.parse(pkt.build { src = "10.0.0.1", dst = "10.0.0.2", sport = 5, dport = 7, seq = 1,
      ack = 2, flags = "S.", win = 100, mss = 1460, data = "" }))
    assert.are.equal("10.0.0.1.5 > 10.0.0.2.7: Flags [S.], seq 1, ack 2, win 100, options [mss 1460], length 0",
      pkt.describe(p))
  end)

  it("runs a scripted peer on the sim: expect waits in virtual time and returns nil on silence", function()
    local p = pkt.peer { seed = 5 }
    local t0 = p:now()
    assert.is_nil(p:expect(250000))
    assert.are.equal(t0 + 250000, p:now())
    assert.are.equal(0, p:events())
    -- a datagram the stack does not answer (bad TCP checksum) is counted
    p:send { sport = 1, dport = 2, flags = "S", bad_csum = true }
    assert.is_nil(p:expect(1000))
    assert.are.equal(1, p:stats().ip_in)
  end)
end)
