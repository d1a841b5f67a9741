-- TCP header codec (core/wire/tcp_wire.c): RFC 9293 3.1 header, 3.2 options,
-- RFC 7323 window scale / timestamps, RFC 2018 SACK.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local SRC, DST = core.ip("10.0.0.1"), core.ip("10.0.0.2")

local function hdr() return ffi.new("struct tl_tcp_hdr") end

-- Build a segment with the C codec: header fields from t, then payload.
local function cbuild(t, payload)
  payload = payload or ""
  local h = hdr()
  h.sport, h.dport, h.seq, h.ack = t.sport or 1, t.dport or 2, t.seq or 0, t.ack or 0
  h.flags, h.win, h.urg = t.flags or C.TL_TH_ACK, t.win or 1000, t.urg or 0
  for k, v in pairs(t.opt or {}) do
    if k == "sack" then
      h.opt.sack_n = #v
      for i, b in ipairs(v) do h.opt.sack[i - 1][0], h.opt.sack[i - 1][1] = b[1], b[2] end
    else
      h.opt[k] = v
    end
  end
  local buf = ffi.new("uint8_t[?]", 60 + #payload)
  local hl = tonumber(C.tl_tcp_build(buf, h))
  ffi.copy(buf + hl, payload, #payload)
  C.tl_tcp_checksum(buf, hl + #payload, SRC, DST)
  return ffi.string(buf, hl + #payload), hl
end

local function cparse(s, src, dst)
  local h = hdr()
  local buf = ffi.new("uint8_t[?]", math.max(#s, 1))
  ffi.copy(buf, s, #s)
  local rc = C.tl_tcp_parse(buf, #s, src or SRC, dst or DST, h)
  return rc, h, buf
end

-- A raw segment from hand-written option bytes, checksummed.
local function raw(opts, payload)
  payload = payload or ""
  local hl = 20 + #opts
  local s = string.char(0, 1, 0, 2, 0, 0, 0, 7, 0, 0, 0, 9, (hl / 4) * 16, 0x10, 0x10, 0, 0, 0, 0, 0) .. opts .. payload
  local buf = ffi.new("uint8_t[?]", #s)
  ffi.copy(buf, s, #s)
  C.tl_tcp_checksum(buf, #s, SRC, DST)
  return ffi.string(buf, #s)
end

describe("tcp_wire", function()
  it("round-trips a SYN with every option in Linux's layout", function()
    local s, hl = cbuild({ flags = C.TL_TH_SYN, seq = 0xfffffffe, win = 64240,
      opt = { has_mss = 1, mss = 1460, sack_ok = 1, has_ts = 1, ts_val = 0xdeadbeef, ts_ecr = 0,
        has_wscale = 1, wscale = 7 } })
    assert.are.equal(40, hl)
    -- 02 04 05b4 | 04 02 08 0a <val> <ecr> | 01 03 03 07, as Linux sends it
    assert.are.equal("\2\4\5\180\4\2\8\10\222\173\190\239\0\0\0\0\1\3\3\7", s:sub(21, 40))
    local rc, h = cparse(s)
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(0xfffffffe, h.seq)
    assert.are.equal(40, h.off)
    assert.are.equal(C.TL_TH_SYN, h.flags)
    assert.are.equal(64240, h.win)
    assert.are.equal(1, h.opt.has_mss); assert.are.equal(1460, h.opt.mss)
    assert.are.equal(1, h.opt.sack_ok)
    assert.are.equal(1, h.opt.has_ts); assert.are.equal(0xdeadbeef, h.opt.ts_val); assert.are.equal(0, h.opt.ts_ecr)
    assert.are.equal(1, h.opt.has_wscale); assert.are.equal(7, h.opt.wscale)
    assert.are.equal(0, h.opt.unknown)
    assert.are.equal(0, h.len)
  end)

  it("pads SACK-permitted without timestamps with NOPs", function()
    local s, hl = cbuild({ flags = C.TL_TH_SYN, opt = { has_mss = 1, mss = 536, sack_ok = 1 } })
    assert.are.equal(28, hl)
    assert.are.equal("\2\4\2\24\1\1\4\2", s:sub(21, 28))
  end)

  it("writes SYN-only options only on SYNs", function()
    local _, hl = cbuild({ flags = C.TL_TH_ACK, opt = { has_mss = 1, mss = 1460, has_wscale = 1, wscale = 3, sack_ok = 1 } })
    assert.are.equal(20, hl)
  end)

  it("round-trips timestamps and SACK blocks on a data segment, odd payload lengths too", function()
    for _, n in ipairs({ 0, 1, 3, 1448 }) do
      local payload = string.rep("x", n - 1) .. (n > 0 and "\255" or "")
      local s, hl = cbuild({ seq = 5, ack = 9, opt = { has_ts = 1, ts_val = 7, ts_ecr = 8,
        sack = { { 100, 200 }, { 300, 400 }, { 0xfffffff0, 0x10 } } } }, payload)
      assert.are.equal(20 + 12 + 4 + 24, hl)
      local rc, h = cparse(s)
      assert.are.equal(C.TL_TCP_OK, rc)
      assert.are.equal(3, h.opt.sack_n)
      assert.are.equal(300, h.opt.sack[1][0]); assert.are.equal(400, h.opt.sack[1][1])
      assert.are.equal(0xfffffff0, h.opt.sack[2][0]); assert.are.equal(0x10, h.opt.sack[2][1])
      assert.are.equal(7, h.opt.ts_val); assert.are.equal(8, h.opt.ts_ecr)
      assert.are.equal(n, h.len)
      assert.are.equal(payload, ffi.string(h.data, h.len))
    end
  end)

  it("drops SACK blocks that do not fit in 40 bytes of options", function()
    local blocks = { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } }
    local _, hl = cbuild({ opt = { has_ts = 1, sack = blocks } })
    assert.are.equal(60, hl) -- TS (12) + 3 blocks (28)
    local s, hl2 = cbuild({ opt = { sack = blocks } })
    assert.are.equal(56, hl2) -- 4 blocks (36)
    local _, h = cparse(s)
    assert.are.equal(4, h.opt.sack_n)
  end)

  it("verifies the checksum against the pseudo-header", function()
    local s = cbuild({}, "hello")
    assert.are.equal(C.TL_TCP_OK, (cparse(s)))
    -- wrong addresses, flipped payload bit, flipped header bit
    assert.are.equal(C.TL_TCP_ECSUM, (cparse(s, SRC + 1, DST)))
    assert.are.equal(C.TL_TCP_ECSUM, (cparse(s:sub(1, -2) .. "n")))
    assert.are.equal(C.TL_TCP_ECSUM, (cparse(s:sub(1, 4) .. string.char(bit.bxor(s:byte(5), 1)) .. s:sub(6))))
  end)

  it("rejects short segments and bad data offsets", function()
    assert.are.equal(C.TL_TCP_ESHORT, (cparse(string.rep("\0", 19))))
    local s = raw("")
    -- data offset 4 (< 5) and 15 (beyond a 20-byte segment)
    for _, off in ipairs({ 4, 15 }) do
      local bad = s:sub(1, 12) .. string.char(off * 16) .. s:sub(14)
      assert.are.equal(C.TL_TCP_EOFF, (cparse(bad)))
    end
  end)

  it("rejects malformed options: zero or one length, running past the header", function()
    for _, opts in ipairs({
      "\2\0\0\0",          -- length 0
      "\99\1\0\0",         -- length 1
      "\1\1\1\2",          -- MSS kind in the last byte, no length byte
      "\1\8\12\0",         -- TS claiming 12 bytes in a 4-byte area
      "\2\4\5\180\5\10\0\0", -- SACK claiming 10 bytes, 4 left
    }) do
      local rc = cparse(raw(opts))
      assert.are.equal(C.TL_TCP_EOPT, rc, ("options %q"):format(opts))
    end
  end)

  it("skips unknown options by their length and counts them", function()
    -- kind 30 (MPTCP) len 6, kind 254 (experimental) len 4, then MSS
    local rc, h = cparse(raw("\30\6\0\0\0\0\254\4\1\2\2\4\5\180"  .. "\0\0"))
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(2, h.opt.unknown)
    assert.are.equal(1, h.opt.has_mss)
    assert.are.equal(1460, h.opt.mss)
  end)

  it("skips known kinds with a wrong length instead of trusting them", function()
    local rc, h = cparse(raw("\2\3\5\1\3\4\7\0"))  -- MSS len 3, WS len 4
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(0, h.opt.has_mss)
    assert.are.equal(0, h.opt.has_wscale)
    assert.are.equal(2, h.opt.unknown)
  end)

  it("stops at EOL", function()
    local rc, h = cparse(raw("\0\2\4\5\180\0\0\0"))
    assert.are.equal(C.TL_TCP_OK, rc)
    assert.are.equal(0, h.opt.has_mss)
  end)

  it("parses options alone through tl_tcp_parse_opts", function()
    local o = ffi.new("struct tl_tcp_opts")
    assert.are.equal(C.TL_TCP_OK, C.tl_tcp_parse_opts("\1\3\3\14", 4, o))
    assert.are.equal(14, o.wscale)
    assert.are.equal(C.TL_TCP_EOPT, C.tl_tcp_parse_opts("\1\3", 2, o))
  end)

  it("formats flags like tcpdump", function()
    local out = ffi.new("char[8]")
    local function f(b) return ffi.string(C.tl_tcp_flags_str(b, out)) end
    assert.are.equal("S", f(C.TL_TH_SYN))
    assert.are.equal("S.", f(C.TL_TH_SYN + C.TL_TH_ACK))
    assert.are.equal(".", f(C.TL_TH_ACK))
    assert.are.equal("P.", f(C.TL_TH_PSH + C.TL_TH_ACK))
    assert.are.equal("F.", f(C.TL_TH_FIN + C.TL_TH_ACK))
    assert.are.equal("R", f(C.TL_TH_RST))
    assert.are.equal("R.", f(C.TL_TH_RST + C.TL_TH_ACK))
    assert.are.equal("none", f(0))
    local big = ffi.new("char[16]")
    assert.are.equal("FSRP.UEW", ffi.string(C.tl_tcp_flags_fmt(0xff, big, 16)))
    assert.are.equal("FSRP.UE", f(0xff)) -- out[8] holds 7 characters
  end)

  it("names its errors", function()
    assert.are.equal("bad checksum", ffi.string(C.tl_tcp_strerror(C.TL_TCP_ECSUM)))
  end)
end)
