-- Borrowed bytes in the send ring (core/ring.c: tl_ring_write_ref,
-- tl_ring_iov, tl_ring_own_all): the zero-copy half of tl_send_ref.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function ring(cap)
  local r = ffi.new("struct tl_ring")
  C.tl_ring_init(r, cap)
  return ffi.gc(r, C.tl_ring_free)
end

-- A writable buffer holding s: what a caller lends with write_ref.
local function buffer(s)
  local b = ffi.new("uint8_t[?]", math.max(#s, 1))
  ffi.copy(b, s, #s)
  return b
end

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

-- The spans tl_ring_iov gives (count, or -1) and their concatenation.
local function iov(r, off, n, max)
  local v = ffi.new("tl_iov[?]", max)
  local k = C.tl_ring_iov(r, off, n, v, max)
  local parts = {}
  for i = 0, k - 1 do parts[#parts + 1] = ffi.string(v[i].base, v[i].len) end
  return k, table.concat(parts)
end

describe("send ring with borrowed bytes", function()
  it("reads borrowed bytes in order with copied ones, without copying them in", function()
    local r = ring(100000)
    local a, b = buffer("BORROWED"), buffer("more")
    assert.are.equal(4, C.tl_ring_write(r, "copy", 4))
    assert.are.equal(8, C.tl_ring_write_ref(r, a, 8))
    assert.are.equal(4, C.tl_ring_write(r, "tail", 4))
    assert.are.equal(4, C.tl_ring_write_ref(r, b, 4))
    assert.are.equal(20, r.len)
    assert.are.equal("copyBORROWEDtailmore", peek(r, 0, 20))
    -- only the copied bytes are in the storage
    assert.are.equal(C.TL_RING_MIN_ALLOC, r.size)
    -- the ring reads the lender's memory: a change shows (the contract is
    -- that the lender does not change it)
    a[0] = string.byte("b")
    assert.are.equal("copybORROWEDtailmore", peek(r, 0, 20))
    -- spans: copy | borrowed | tail | more, each its own piece
    local k, s = iov(r, 0, 20, 16)
    assert.are.equal(4, k)
    assert.are.equal("copybORROWEDtailmore", s)
  end)

  it("points its spans at the lender's memory", function()
    local r = ring(64)
    local a = buffer("0123456789")
    C.tl_ring_write_ref(r, a, 10)
    local v = ffi.new("tl_iov[4]")
    assert.are.equal(1, C.tl_ring_iov(r, 3, 5, v, 4))
    assert.is_true(v[0].base == ffi.cast("const uint8_t *", a) + 3)
    assert.are.equal(5, tonumber(v[0].len))
  end)

  it("merges consecutive writes of one buffer into one piece", function()
    local r = ring(64)
    local a = buffer(string.rep("x", 30))
    for off = 0, 29, 10 do assert.are.equal(10, C.tl_ring_write_ref(r, a + off, 10)) end
    assert.are.equal(1, (iov(r, 0, 30, 4)))
  end)

  it("takes only what fits", function()
    local r = ring(10)
    assert.are.equal(6, C.tl_ring_write(r, "abcdef", 6))
    local a = buffer("0123456789")
    assert.are.equal(4, C.tl_ring_write_ref(r, a, 10))
    assert.are.equal(0, C.tl_ring_write_ref(r, a + 4, 6))
    assert.are.equal("abcdef0123", peek(r, 0, 10))
  end)

  it("returns -1 from iov when the bytes lie in more pieces than allowed", function()
    local r = ring(100)
    local bufs = {}
    for i = 1, 6 do
      bufs[i] = buffer(tostring(i):rep(5))
      C.tl_ring_write_ref(r, bufs[i], 5)
    end
    assert.are.equal(-1, (iov(r, 0, 30, 5)))
    local k, s = iov(r, 2, 21, 5)
    assert.are.equal(5, k)
    assert.are.equal(("111112222233333444445555566666"):sub(3, 23), s)
  end)

  it("becomes a plain ring again once the borrowed bytes are dropped", function()
    local r = ring(64)
    local a = buffer("lent")
    C.tl_ring_write(r, "ab", 2)
    C.tl_ring_write_ref(r, a, 4)
    C.tl_ring_write(r, "cd", 2)
    assert.is_true(C.tl_ring_ext_bytes(r) > 0)
    assert.are.equal("ablen", read(r, 5))
    assert.is_true(C.tl_ring_ext_bytes(r) > 0)
    assert.are.equal("t", read(r, 1))
    assert.are.equal(0, C.tl_ring_ext_bytes(r)) -- only copied bytes are left
    assert.are.equal("cd", peek(r, 0, 2))
    assert.are.equal(2, (select(1, C.tl_ring_write(r, "ef", 2))))
    assert.are.equal("cdef", read(r, 4))
    assert.is_true(r.buf == nil)
  end)

  it("own_all copies the borrowed bytes in: the lender may then reuse its memory", function()
    local r = ring(64)
    local a = buffer("borrowed")
    C.tl_ring_write(r, "x", 1)
    C.tl_ring_write_ref(r, a, 8)
    read(r, 3)
    assert.are.equal(0, C.tl_ring_own_all(r))
    assert.are.equal(0, C.tl_ring_ext_bytes(r))
    ffi.fill(a, 8, 0)
    assert.are.equal("rrowed", peek(r, 0, 6))
    assert.are.equal(6, r.len)
    assert.are.equal(1, C.tl_ring_write(r, "!", 1))
    assert.are.equal("rrowed!", read(r, 7))
  end)

  -- A random sequence of copied and borrowed writes, reads, peeks, spans,
  -- own_all and resizes against a string model. Storage never holds more
  -- than the copied bytes need, and the piece list exists exactly while
  -- borrowed bytes are held.
  local function model_run(seed, rounds, maxcap, steps)
    math.randomseed(seed)
    for round = 1, rounds do
      local cap = math.random(1, maxcap)
      local r = ring(cap)
      local held = ""
      local runs = {} -- held bytes as runs { borrowed, length }, oldest first
      local lent = {}  -- keeps lent buffers alive
      local counter = 0
      local function rnd(n)
        local t = {}
        for i = 1, n do counter = counter + 1; t[i] = string.char(counter % 251) end
        return table.concat(t)
      end
      for _ = 1, steps do
        local op = math.random(1, 7)
        local space = cap - #held
        if op == 1 or op == 2 then
          local s = rnd(math.random(0, math.min(cap, 3 * C.TL_RING_MIN_ALLOC)))
          local took
          if op == 1 then
            took = C.tl_ring_write(r, s, #s)
          else
            local b = buffer(s)
            lent[#lent + 1] = b
            took = C.tl_ring_write_ref(r, b, #s)
          end
          assert.are.equal(math.min(#s, space), took)
          held = held .. s:sub(1, took)
          if took > 0 then runs[#runs + 1] = { op == 2, took } end
        elseif op == 3 then
          local n = math.random(0, cap)
          assert.are.equal(held:sub(1, n), read(r, n))
          held = held:sub(n + 1)
          while n > 0 and #runs > 0 do
            local take = math.min(n, runs[1][2])
            runs[1][2] = runs[1][2] - take
            n = n - take
            if runs[1][2] == 0 then table.remove(runs, 1) end
          end
        elseif op == 4 then
          local off = math.random(0, #held)
          local n = math.random(0, #held - off + 2)
          assert.are.equal(held:sub(off + 1, off + n), peek(r, off, n))
        elseif op == 5 then
          local off = math.random(0, cap)
          local n = math.random(0, cap)
          local max = math.random(1, 8)
          local k, s = iov(r, off, n, max)
          if k >= 0 then assert.are.equal(held:sub(off + 1, off + n), s) end
        elseif op == 6 then
          assert.are.equal(0, C.tl_ring_own_all(r))
          for i = 1, #runs do runs[i][1] = false end
          for _, b in ipairs(lent) do ffi.fill(b, 1, 0xee) end -- the lender reuses its memory
          lent = {}
        elseif op == 7 then
          local want = math.random(1, maxcap)
          if want < #held then
            assert.are.equal(-1, C.tl_ring_resize(r, want))
          else
            assert.are.equal(0, C.tl_ring_resize(r, want))
            cap = want
          end
        end
        local borrowed = 0
        for i = 1, #runs do if runs[i][1] then borrowed = borrowed + runs[i][2] end end
        assert.are.equal(#held, r.len, "round " .. round)
        assert.are.equal(borrowed > 0, C.tl_ring_ext_bytes(r) > 0)
        if r.buf ~= nil then
          assert.is_true(r.size >= #held - borrowed and r.size <= cap, "storage " .. r.size)
        end
      end
      assert.are.equal(held, read(r, #held))
      assert.are.equal(0, C.tl_ring_ext_bytes(r))
    end
  end

  it("matches a string model over random copied and borrowed operations", function()
    model_run(2071, 60, 64, 300)
  end)

  it("matches the model with storage growth, wrapping and many pieces", function()
    model_run(2072, 30, 12 * C.TL_RING_MIN_ALLOC, 200)
  end)
end)
