-- Link offloads in the core: with tl_config.tso_max the engine sends TSO
-- "super-segments" (several MSS in one datagram, pseudo-header checksum
-- only, for the link to cut and checksum), and it takes GRO'd segments
-- whose checksum the link left partial when told so. The TUN side (virtio
-- header, --offload) is in spec/tun/fast_offload_spec.lua.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS = 80, 9000

local function be16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end

-- Sum a string as the RFC 1071 checksum does (not complemented, folded).
local function sum16(s, init)
  return C.tl_csum_partial(s, #s, init or 0)
end

local function accepted(tso, mss)
  local p = pkt.peer { seed = 41, latency_us = 100, config = function(cfg) cfg.tso_max = tso end }
  local s, sa = p:handshake(p:listen(PORT, 4),
    { sport = 5000, dport = PORT, seq = ISS, mss = mss or 1460, wscale = 7, sackok = true })
  return p, s, sa.seq + 1
end

describe("TSO super-segments (tl_config.tso_max)", function()
  it("sends several MSS in one datagram, with only the pseudo-header sum in the checksum field", function()
    local p, s, base = accepted(65535)
    local i = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, i)
    local mss = i.snd_mss
    local data = string.rep("abcdefgh", 8192) -- 64 KB
    C.tl_send(s, data, #data, p:now())
    local segs = p:collect(1000)
    assert.is_true(#segs >= 1)
    local first = segs[1]
    assert.is_true(#first.data > 1500, "no super-segment: " .. #first.data .. " bytes")
    assert.are.equal(0, #first.data % mss, "a super-segment carries whole MSS")
    assert.are.equal(base, first.seq)
    -- IPv4 total length covers the whole datagram
    assert.are.equal(#first.raw, be16(first.raw, 3))
    -- the checksum field holds the pseudo-header sum, uncomplemented
    -- (virtio NEEDS_CSUM): finishing it over the segment gives a valid one
    local ihl = (first.raw:byte(1) % 16) * 4
    local seg = first.raw:sub(ihl + 1)
    local full = C.tl_csum_fold(sum16(seg))
    local fixed = seg:sub(1, 16) .. string.char(math.floor(full / 256), full % 256) .. seg:sub(19)
    local ok = C.tl_csum_fold(sum16(fixed, sum16("\10\0\0\2\10\0\0\1\0\6" .. string.char(math.floor(#seg / 256), #seg % 256))))
    assert.are.equal(0, ok, "completed checksum does not verify")
    -- the initial window went out as super-segments, in order (RFC 6928: 10 MSS)
    local got = {}
    for _, g in ipairs(segs) do got[#got + 1] = g.data end
    got = table.concat(got)
    assert.are.equal(10 * mss, #got)
    assert.is_true(got == data:sub(1, #got))
    assert.is_true(#segs < 10, #segs .. " datagrams for the initial window")
    assert.are.equal(0, core.stats(p.st).drop_ip_out_too_big)
  end)

  it("sends none when the peer's MSS, not the MTU, bounds the segment (the link would cut MTU-sized pieces)", function()
    local p, s = accepted(65535, 1000)
    local data = string.rep("m", 20000)
    C.tl_send(s, data, #data, p:now())
    local segs = p:collect(1000)
    assert.is_true(#segs >= 10)
    for _, g in ipairs(segs) do assert.is_true(#g.data <= 1000) end
  end)

  it("keeps one MSS per segment when tso_max is 0, and for retransmissions", function()
    local p, s = accepted(0)
    local data = string.rep("z", 20000)
    C.tl_send(s, data, #data, p:now())
    for _, g in ipairs(p:collect(1000)) do assert.is_true(#g.raw <= 1500) end
    local p2, s2 = accepted(65535)
    C.tl_send(s2, data, #data, p2:now())
    assert.is_true(#p2:collect(1000) >= 1)
    -- no ACK: the RTO resends one MSS, with a whole checksum
    local r = assert(p2:expect(3e6))
    assert.is_true(#r.raw <= 1500)
    assert.is_true(r.csum_ok)
  end)
end)

describe("GRO'd input with a partial checksum (TL_RX_CSUM_PARTIAL)", function()
  it("takes a 20 KB segment carrying only the pseudo-header sum when told, drops it otherwise", function()
    local p, s = accepted(65535)
    local data = string.rep("q", 20000)
    local function partial_segment(seq)
      local raw = pkt.build { sport = 5000, dport = PORT, seq = seq, ack = 0, flags = "P.", win = 65535,
        data = data, src = p.peer_addr, dst = p.addr }
      -- replace the TCP checksum with the pseudo-header sum, as the kernel leaves it
      local seglen = #raw - 20
      local ph = C.tl_csum_fold(sum16("\10\0\0\1\10\0\0\2\0\6" .. string.char(math.floor(seglen / 256), seglen % 256)))
      ph = 0xffff - ph
      return raw:sub(1, 36) .. string.char(math.floor(ph / 256), ph % 256) .. raw:sub(39)
    end
    local i = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, i)
    local ack = i.snd_una
    local function seg(seq)
      local raw = partial_segment(seq)
      -- ack field: what the stack expects
      return raw:sub(1, 28) .. string.char(math.floor(ack / 16777216) % 256, math.floor(ack / 65536) % 256,
        math.floor(ack / 256) % 256, ack % 256) .. raw:sub(33)
    end
    local before = core.stats(p.st).drop_tcp_checksum
    p:send(seg(ISS + 1))
    p:collect(1000)
    assert.are.equal(before + 1, core.stats(p.st).drop_tcp_checksum, "a partial checksum was accepted untold")
    assert.are.equal(0, tonumber(C.tl_readable(s)))
    -- the flag rides with this one datagram, fed as the host feeds it
    local raw = seg(ISS + 1)
    C.tl_stack_input_flags(p.st, raw, #raw, p:now(), C.TL_RX_CSUM_PARTIAL)
    assert.are.equal(#data, tonumber(C.tl_readable(s)))
    -- and is no mode: the same bytes untold are dropped again
    local dropped = core.stats(p.st).drop_tcp_checksum
    C.tl_stack_input(p.st, raw, #raw, p:now())
    assert.are.equal(dropped + 1, core.stats(p.st).drop_tcp_checksum)
  end)
end)
