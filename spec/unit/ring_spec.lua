-- The byte ring behind socket buffers (core/ring.c).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function ring(cap)
  local r = ffi.new("struct tl_ring")
  C.tl_ring_init(r, cap)
  return ffi.gc(r, C.tl_ring_free)
end

local function write(r, s) return C.tl_ring_write(r, s, #s) end

local function peek(r, off, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  local got = C.tl_ring_peek(r, off, buf, n)
  return ffi.string(buf, got)
end

local function read(r, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  local got = C.tl_ring_read(r, buf, n)
  return ffi.string(buf, got)
end

local function spans(r, off, n)
  local p1, p2 = ffi.new("const uint8_t *[1]"), ffi.new("const uint8_t *[1]")
  local n1, n2 = ffi.new("uint32_t[1]"), ffi.new("uint32_t[1]")
  local k = C.tl_ring_spans(r, off, n, p1, n1, p2, n2)
  local s = ""
  if k >= 1 then s = s .. ffi.string(p1[0], n1[0]) end
  if k == 2 then s = s .. ffi.string(p2[0], n2[0]) end
  return k, s
end

describe("ring buffer", function()
  it("allocates storage on first write and frees it when drained", function()
    local r = ring(16)
    assert.is_true(r.buf == nil)
    assert.are.equal(16, C.tl_ring_space_x(r))
    assert.are.equal(5, write(r, "hello"))
    assert.is_true(r.buf ~= nil)
    assert.are.equal("hello", read(r, 100))
    assert.is_true(r.buf == nil)
    assert.are.equal(0, r.len)
  end)

  it("takes only what fits and reports it", function()
    local r = ring(8)
    assert.are.equal(8, write(r, "0123456789"))
    assert.are.equal(0, write(r, "x"))
    assert.are.equal(0, C.tl_ring_space_x(r))
    assert.are.equal("01234567", peek(r, 0, 8))
  end)

  it("wraps around the end of its storage", function()
    local r = ring(8)
    write(r, "abcdef")
    assert.are.equal("abcd", read(r, 4))
    assert.are.equal(6, write(r, "ghijkl")) -- crosses the end
    assert.are.equal(8, r.len)
    local k, s = spans(r, 0, 8)
    assert.are.equal(2, k)
    assert.are.equal("efghijkl", s)
    assert.are.equal("hij", peek(r, 3, 3))
    assert.are.equal(5, C.tl_ring_find(r, string.byte("j")))
    assert.are.equal(0, C.tl_ring_find(r, string.byte("e")))
    assert.are.equal(-1, C.tl_ring_find(r, string.byte("a")))
    assert.are.equal("efghijkl", read(r, 8))
  end)

  it("holds out-of-order bytes with write_at until commit", function()
    local r = ring(16)
    write(r, "ab")
    assert.are.equal(0, C.tl_ring_write_at(r, 3, "fgh", 3)) -- hole at offset 0..2
    assert.are.equal(2, r.len)
    assert.are.equal("ab", peek(r, 0, 16))
    -- reading everything held must not lose the pending bytes
    assert.are.equal("ab", read(r, 2))
    assert.is_true(r.buf ~= nil)
    assert.are.equal(0, C.tl_ring_write_at(r, 0, "cde", 3))
    C.tl_ring_commit(r, 6)
    assert.are.equal("cdefgh", read(r, 16))
    assert.is_true(r.buf == nil)
  end)

  it("refuses write_at beyond its space", function()
    local r = ring(8)
    write(r, "abcd")
    assert.are.equal(-1, C.tl_ring_write_at(r, 2, "xyz", 3))
    assert.are.equal(0, C.tl_ring_write_at(r, 1, "xyz", 3))
  end)

  it("forget_ahead releases storage that only held out-of-order bytes", function()
    local r = ring(8)
    assert.are.equal(0, C.tl_ring_write_at(r, 2, "zz", 2))
    assert.is_true(r.buf ~= nil)
    C.tl_ring_forget_ahead(r)
    assert.is_true(r.buf == nil)
  end)

  it("resizes keeping its bytes, and refuses to shrink below them", function()
    local r = ring(8)
    write(r, "abcdef"); read(r, 4); write(r, "ghij") -- wrapped: "efghij"
    assert.are.equal(-1, C.tl_ring_resize(r, 5))
    assert.are.equal(0, C.tl_ring_resize(r, 32))
    assert.are.equal(32, r.cap)
    assert.are.equal(26, C.tl_ring_space_x(r))
    assert.are.equal("efghij", peek(r, 0, 32))
    local k = spans(r, 0, 6)
    assert.are.equal(1, k)
    assert.are.equal(0, C.tl_ring_resize(r, 6))
    assert.are.equal("efghij", read(r, 6))
  end)

  it("spans clamp to the held bytes", function()
    local r = ring(8)
    write(r, "abc")
    local k, s = spans(r, 1, 100)
    assert.are.equal(1, k); assert.are.equal("bc", s)
    k = spans(r, 3, 1)
    assert.are.equal(0, k)
  end)

  it("matches a string model over random operation sequences", function()
    math.randomseed(1071)
    for round = 1, 60 do
      local cap = math.random(1, 64)
      local r = ring(cap)
      local held, ahead = "", {} -- ahead[i] = byte at offset i past the end
      local aheadlen = 0
      local counter = 0
      local function rnd(n)
        local t = {}
        for i = 1, n do counter = counter + 1; t[i] = string.char(counter % 251) end
        return table.concat(t)
      end
      for _ = 1, 300 do
        local op = math.random(1, 7)
        local space = cap - #held
        if op == 1 then
          local s = rnd(math.random(0, cap))
          local took = write(r, s)
          assert.are.equal(math.min(#s, space), took)
          held = held .. s:sub(1, took)
          -- in-order bytes consume the front of the written-ahead area
          local na = {}
          for i, b in pairs(ahead) do if i >= took then na[i - took] = b end end
          ahead, aheadlen = na, math.max(0, aheadlen - took)
        elseif op == 2 then
          local n = math.random(0, cap)
          assert.are.equal(held:sub(1, n), read(r, n))
          held = held:sub(n + 1)
        elseif op == 3 then
          local off = math.random(0, #held)
          local n = math.random(0, #held - off + 2)
          assert.are.equal(held:sub(off + 1, off + n), peek(r, off, n))
        elseif op == 4 and space > 0 then
          local off = math.random(0, space - 1)
          local s = rnd(math.random(1, space - off))
          assert.are.equal(0, C.tl_ring_write_at(r, off, s, #s))
          for i = 1, #s do ahead[off + i - 1] = s:sub(i, i) end
          aheadlen = math.max(aheadlen, off + #s)
        elseif op == 5 and aheadlen > 0 then
          -- commit the contiguous written prefix of the ahead area
          local n = 0
          while ahead[n] do n = n + 1 end
          if n > 0 then
            local t = {}
            for i = 0, n - 1 do t[#t + 1] = ahead[i] end
            C.tl_ring_commit(r, n)
            held = held .. table.concat(t)
            local na = {}
            for i, b in pairs(ahead) do if i >= n then na[i - n] = b end end
            ahead, aheadlen = na, aheadlen - n
          end
        elseif op == 6 then
          local c = math.random(0, 250)
          local pos = held:find(string.char(c), 1, true)
          assert.are.equal(pos and pos - 1 or -1, C.tl_ring_find(r, c))
        elseif op == 7 then
          local off = math.random(0, cap)
          local n = math.random(0, cap)
          local _, s = spans(r, off, n)
          assert.are.equal(held:sub(off + 1, off + n), s)
        end
        assert.are.equal(#held, r.len, "round " .. round)
        -- storage exists exactly while something is held or written ahead
        assert.are.equal(#held > 0 or aheadlen > 0, r.buf ~= nil)
      end
    end
  end)
end)
