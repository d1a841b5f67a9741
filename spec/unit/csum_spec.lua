local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi

local function bytes(t) return ffi.new("uint8_t[?]", #t, t) end

describe("checksum (RFC 1071)", function()
  it("matches the RFC 1071 section 3 example", function()
    -- 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement 220d)
    local b = bytes({ 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 })
    assert.are.equal(0xddf2, C.tl_csum_partial(b, 8, 0))
    assert.are.equal(0x220d, C.tl_csum(b, 8))
  end)

  it("pads an odd final byte with zero on the right", function()
    assert.are.equal(bit.band(bit.bnot(0xab00), 0xffff), C.tl_csum("\171", 1))
    assert.are.equal(C.tl_csum("\1\2\3\0", 4), C.tl_csum("\1\2\3", 3))
    assert.are.equal(0xffff, C.tl_csum("", 0))
  end)

  it("equals a byte-at-a-time reference over random buffers of every length", function()
    math.randomseed(1071)
    for len = 0, 300 do
      local s = P.random_bytes(len)
      assert.are.equal(P.csum(s), C.tl_csum(s, len), "length " .. len)
    end
    for _ = 1, 200 do
      local len = math.random(0, 9000)
      local s = P.random_bytes(len)
      -- unaligned starts too: the C code must not assume alignment
      local off = math.random(0, 7)
      local buf = ffi.new("uint8_t[?]", len + 8)
      ffi.copy(buf + off, s, len)
      assert.are.equal(P.csum(s), C.tl_csum(buf + off, len))
    end
  end)

  it("chains partial sums over even-length pieces", function()
    math.randomseed(815)
    for _ = 1, 200 do
      local a, b = P.random_bytes(math.random(0, 100) * 2), P.random_bytes(math.random(0, 201))
      local part = C.tl_csum_partial(a, #a, 0)
      assert.are.equal(C.tl_csum(a .. b, #a + #b), C.tl_csum_fold(C.tl_csum_partial(b, #b, part)))
    end
  end)

  it("verifies to zero once the checksum is stored in the data", function()
    math.randomseed(791)
    for _ = 1, 500 do
      local s = P.random_bytes(math.random(1, 60) * 2)
      s = s:sub(1, 2) .. "\0\0" .. s:sub(5)
      local c = C.tl_csum(s, #s)
      local with = s:sub(1, 2) .. P.u16(c) .. s:sub(5)
      assert.are.equal(0, C.tl_csum(with, #with))
    end
  end)
end)

describe("incremental update (RFC 1624)", function()
  it("equals a full recompute over thousands of random word changes", function()
    math.randomseed(1624)
    for _ = 1, 5000 do
      local n = math.random(2, 40)
      local words = {}
      for i = 1, n do words[i] = math.random(0, 0xffff) end
      -- pin some edge values: the cases RFC 1624 section 3 is about
      if math.random() < 0.2 then words[math.random(1, n)] = 0 end
      if math.random() < 0.2 then words[math.random(1, n)] = 0xffff end
      local function pack()
        local t = {}
        for i = 1, n do t[i] = P.u16(words[i]) end
        return table.concat(t)
      end
      local before = pack()
      local hc = C.tl_csum(before, #before)
      local k = math.random(1, n)
      local old = words[k]
      words[k] = ({ 0, 0xffff, math.random(0, 0xffff) })[math.random(1, 3)]
      local after = pack()
      local full = C.tl_csum(after, #after)
      local inc = C.tl_csum_update16(hc, old, words[k])
      assert.are.equal(full, inc)
    end
  end)

  it("updates an IPv4 header after a TTL decrement, as a router would", function()
    local h = P.header({ ttl = 64, proto = 6, payload_len = 100 })
    local old = P.get16(h, 9)
    local new = old - 256
    local c = C.tl_csum_update16(P.get16(h, 11), old, new)
    local h2 = h:sub(1, 8) .. P.u16(new) .. P.u16(c) .. h:sub(13)
    assert.are.equal(0, P.csum(h2))
    assert.are.equal(63, h2:byte(9))
  end)
end)
