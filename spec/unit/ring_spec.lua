-- The byte ring behind socket buffers (core/storage/ring.c).
local core = require "tcplua.core"
local C = core.C
local rt = require "helpers.ringtest"
local ring, write, peek, read, spans = rt.ring, rt.write, rt.peek, rt.read, rt.spans
local MIN = C.TL_RING_MIN_ALLOC

describe("ring buffer", function()
  it("allocates storage on first write and frees it when drained", function()
    local r = ring(16)
    assert.is_true(r.buf == nil)
    assert.are.equal(16, C.tl_ring_space(r))
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
    assert.are.equal(0, C.tl_ring_space(r))
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
    assert.are.equal(26, C.tl_ring_space(r))
    assert.are.equal("efghij", peek(r, 0, 32))
    -- a larger capacity allocates nothing: the storage grows with the data
    assert.are.equal(8, r.size)
    assert.are.equal(2, (spans(r, 0, 6)))
    assert.are.equal(8, write(r, "klmnopqr"))
    assert.are.equal(16, r.size) -- doubled
    assert.are.equal(1, (spans(r, 0, 14)))
    assert.are.equal("efghijklmnopqr", peek(r, 0, 32))
    -- a capacity below the storage moves the bytes into less
    assert.are.equal(0, C.tl_ring_resize(r, 14))
    assert.are.equal(14, r.size)
    assert.are.equal("efghijklmnopqr", read(r, 14))
  end)

  it("starts its storage small and doubles it up to the capacity", function()
    local cap = 100000 -- not a power of two: the last step stops at it
    local r = ring(cap)
    assert.are.equal(1, write(r, "x"))
    assert.are.equal(MIN, r.size)
    local sizes = { r.size }
    local total = 1
    while total < cap do
      local n = math.min(3000, cap - total)
      assert.are.equal(n, write(r, string.rep("y", n)))
      total = total + n
      if r.size ~= sizes[#sizes] then sizes[#sizes + 1] = r.size end
    end
    assert.are.same({ MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, cap }, sizes)
    assert.are.equal(0, C.tl_ring_space(r))
    assert.are.equal(0, write(r, "z"))
    assert.are.equal("x" .. string.rep("y", 2999), peek(r, 0, 3000))
    -- steady state: draining and refilling within the storage keeps it
    for _ = 1, 50 do
      assert.are.equal(40000, #read(r, 40000))
      assert.are.equal(40000, write(r, string.rep("w", 40000)))
      assert.are.equal(cap, r.size)
    end
  end)

  it("keeps the byte order when it grows with its bytes wrapped around the end", function()
    local r = ring(64 * 1024)
    local a = string.rep("a", MIN - 100)
    write(r, a)
    assert.are.equal(MIN - 200, #read(r, MIN - 200)) -- head near the end
    local b = ("0123456789"):rep(30)                 -- wraps
    write(r, b)
    assert.are.equal(MIN, r.size)
    assert.are.equal(2, (spans(r, 0, 400)))
    local c = ("abcdefghij"):rep(500)                -- needs more than MIN
    assert.are.equal(#c, write(r, c))
    assert.are.equal(2 * MIN, r.size)
    local want = string.rep("a", 100) .. b .. c
    assert.are.equal(#want, r.len)
    local k, got = spans(r, 0, #want)
    assert.are.equal(1, k) -- relocated to the front of the new storage
    assert.are.equal(want, got)
    assert.are.equal(want, read(r, #want))
    assert.is_true(r.buf == nil)
    assert.are.equal(0, r.size)
  end)

  it("grows for out-of-order bytes written ahead and keeps them", function()
    local r = ring(256 * 1024)
    write(r, "head")
    local late = string.rep("L", 1000)
    assert.are.equal(0, C.tl_ring_write_at(r, 3 * MIN, late, #late))
    assert.are.equal(4 * MIN, r.size)
    assert.are.equal(4, r.len)
    local gap = string.rep("g", 3 * MIN)
    assert.are.equal(0, C.tl_ring_write_at(r, 0, gap, #gap))
    C.tl_ring_commit(r, #gap + #late)
    assert.are.equal("head" .. gap .. late, read(r, 4 + #gap + #late))
    assert.is_true(r.buf == nil)
  end)

  it("spans clamp to the held bytes", function()
    local r = ring(8)
    write(r, "abc")
    local k, s = spans(r, 1, 100)
    assert.are.equal(1, k); assert.are.equal("bc", s)
    k = spans(r, 3, 1)
    assert.are.equal(0, k)
  end)

  -- Checks the ring against a string model: held bytes, bytes written
  -- ahead, and the storage invariants (it exists exactly while something is
  -- held or written ahead, covers both, and never exceeds the capacity).
  -- m.ahead[i] = byte at offset i past the end of the held bytes
  local function shift(m, n)
    local na = {}
    for i, b in pairs(m.ahead) do if i >= n then na[i - n] = b end end
    m.ahead, m.aheadlen = na, math.max(0, m.aheadlen - n)
  end
  local ops = {
    function(m)
      -- in-order bytes consume the front of the written-ahead area
      shift(m, rt.write_op(m, 3 * MIN))
    end,
    rt.read_op,
    function(m) rt.peek_op(m, 2) end,
    function(m)
      if m.space == 0 then return end
      local off = math.random(0, m.space - 1)
      local s = m.bytes(math.random(1, math.min(m.space - off, 2 * MIN)))
      assert.are.equal(0, C.tl_ring_write_at(m.r, off, s, #s))
      for i = 1, #s do m.ahead[off + i - 1] = s:sub(i, i) end
      m.aheadlen = math.max(m.aheadlen, off + #s)
    end,
    function(m)
      -- commit the contiguous written prefix of the ahead area
      local n = 0
      while m.ahead[n] do n = n + 1 end
      if n > 0 then
        local t = {}
        for i = 0, n - 1 do t[#t + 1] = m.ahead[i] end
        C.tl_ring_commit(m.r, n)
        m.held = m.held .. table.concat(t)
        shift(m, n)
      end
    end,
    function(m)
      local c = math.random(0, 250)
      local pos = m.held:find(string.char(c), 1, true)
      assert.are.equal(pos and pos - 1 or -1, C.tl_ring_find(m.r, c))
    end,
    function(m)
      local off = math.random(0, m.cap)
      local n = math.random(0, m.cap)
      local _, s = spans(m.r, off, n)
      assert.are.equal(m.held:sub(off + 1, off + n), s)
    end,
    function(m) rt.resize_op(m, #m.held + m.aheadlen) end,
  }
  local model = {
    ops = ops,
    start = function(m) m.ahead, m.aheadlen = {}, 0 end,
    check = function(m)
      local r = m.r
      assert.are.equal(#m.held, r.len, "round " .. m.round)
      assert.are.equal(m.cap, r.cap)
      assert.are.equal(#m.held > 0 or m.aheadlen > 0, r.buf ~= nil)
      if r.buf ~= nil then
        assert.is_true(r.size >= #m.held + m.aheadlen and r.size <= m.cap, "storage " .. r.size)
      else
        assert.are.equal(0, r.size)
      end
    end,
  }

  it("matches a string model over random operation sequences", function() rt.model(1071, 60, 64, 300, model) end)

  it("matches the model while its storage grows, wraps and is resized", function() rt.model(1072, 30, 12 * MIN, 200, model) end)
end)
