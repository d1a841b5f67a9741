-- Review of the send ring's borrowed pieces (core/ring.c) under what a
-- socket does to its send ring besides reading and writing: the storage
-- kept across drains (keep, core/tcp_buf.c), freed by the release timer
-- only when idle, capacity changes (TL_OPT_SNDBUF, autotuning) and
-- own_all at close, at random against a string model.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function buffer(s)
  local b = ffi.new("uint8_t[?]", math.max(#s, 1))
  ffi.copy(b, s, #s)
  return b
end

local function peek(r, off, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  return ffi.string(buf, C.tl_ring_peek(r, off, buf, n))
end

local function read(r, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  return ffi.string(buf, C.tl_ring_read(r, buf, n))
end

local function iov(r, off, n, max)
  local v = ffi.new("tl_iov[?]", max)
  local k = C.tl_ring_iov(r, off, n, v, max)
  local parts = {}
  for i = 0, k - 1 do parts[#parts + 1] = ffi.string(v[i].base, v[i].len) end
  return k, table.concat(parts)
end

-- tcp_buf.c's idle test: storage held, nothing in it.
local function idle(r) return r.buf ~= nil and r.len == 0 and r.ahead == 0 end

describe("send ring with borrowed bytes, reviewed", function()
  it("an all-borrowed ring has no storage, is never idle, and drains to a plain ring", function()
    local r = ffi.gc(ffi.new("struct tl_ring"), C.tl_ring_free)
    C.tl_ring_init(r, 100000)
    r.keep = 1
    local b = buffer(string.rep("L", 50000))
    assert.are.equal(50000, C.tl_ring_write_ref(r, b, 50000))
    assert.is_true(r.buf == nil)
    assert.are.equal(50000, r.len)
    assert.is_false(idle(r)) -- the release timer leaves it alone
    assert.are.equal(0, C.tl_ring_resize(r, 60000)) -- shrinks: nothing to move
    assert.are.equal(-1, C.tl_ring_resize(r, 49999))
    C.tl_ring_drop(r, 50000)
    assert.are.equal(0, C.tl_ring_ext_bytes(r))
    assert.is_true(r.buf == nil)
    -- own_all with nothing borrowed is a no-op
    assert.are.equal(0, C.tl_ring_own_all(r))
    assert.are.equal(1, C.tl_ring_write(r, "x", 1))
    assert.are.equal("x", read(r, 1))
  end)

  it("own_all at close copies what is borrowed behind kept, wrapped storage", function()
    local r = ffi.gc(ffi.new("struct tl_ring"), C.tl_ring_free)
    C.tl_ring_init(r, 3 * C.TL_RING_MIN_ALLOC)
    r.keep = 1
    local min = C.TL_RING_MIN_ALLOC
    -- wrap the storage: write and drain most of it
    assert.are.equal(min - 10, C.tl_ring_write(r, string.rep("a", min - 10), min - 10))
    C.tl_ring_drop(r, min - 10)
    assert.is_true(idle(r))
    assert.are.equal(20, C.tl_ring_write(r, string.rep("w", 20), 20)) -- wraps
    local b = buffer(string.rep("B", min))
    assert.are.equal(min, C.tl_ring_write_ref(r, b, min))
    assert.are.equal(30, C.tl_ring_write(r, string.rep("c", 30), 30))
    local want = string.rep("w", 20) .. string.rep("B", min) .. string.rep("c", 30)
    assert.are.equal(0, C.tl_ring_own_all(r))
    ffi.fill(b, min, 0x21) -- the lender reuses its memory
    assert.are.equal(want, peek(r, 0, #want))
    assert.are.equal(0, C.tl_ring_ext_bytes(r))
    assert.is_true(r.size >= #want and r.size <= r.cap)
  end)

  -- Random writes (copied and borrowed), acknowledgements (drops), peeks,
  -- spans, capacity changes, own_all and the release timer, on a ring
  -- that keeps its storage across drains as a socket's does.
  local function model(seed, rounds, maxcap, steps)
    math.randomseed(seed)
    for round = 1, rounds do
      local cap = math.random(1, maxcap)
      local r = ffi.gc(ffi.new("struct tl_ring"), C.tl_ring_free)
      C.tl_ring_init(r, cap)
      r.keep = 1
      local held, lent, counter = "", {}, 0
      local function rnd(n)
        local t = {}
        for i = 1, n do counter = counter + 1; t[i] = string.char(counter % 251) end
        return table.concat(t)
      end
      for step = 1, steps do
        local op = math.random(1, 9)
        local space = cap - #held
        local where = ("round %d step %d op %d"):format(round, step, op)
        if op <= 3 then
          local s = rnd(math.random(0, math.min(cap, 2 * C.TL_RING_MIN_ALLOC)))
          local took
          if op == 1 then
            took = C.tl_ring_write(r, s, #s)
          else
            local b = buffer(s)
            lent[#lent + 1] = b
            took = C.tl_ring_write_ref(r, b, #s)
          end
          assert.are.equal(math.min(#s, space), took, where)
          held = held .. s:sub(1, took)
        elseif op == 4 then
          local n = math.random(0, #held)
          C.tl_ring_drop(r, n)
          held = held:sub(n + 1)
        elseif op == 5 then
          local off = math.random(0, #held)
          local n = math.random(0, #held - off)
          assert.are.equal(held:sub(off + 1, off + n), peek(r, off, n), where)
          local k, s = iov(r, off, n, math.random(1, 6))
          if k >= 0 then assert.are.equal(held:sub(off + 1, off + n), s, where) end
        elseif op == 6 then
          local want = math.random(1, maxcap)
          local rc = C.tl_ring_resize(r, want)
          if want < #held then
            assert.are.equal(-1, rc, where)
          else
            assert.are.equal(0, rc, where)
            cap = want
          end
        elseif op == 7 then
          assert.are.equal(0, C.tl_ring_own_all(r), where)
          for _, b in ipairs(lent) do ffi.fill(b, 1, 0xee) end
          lent = {}
        elseif op == 8 then
          if idle(r) then C.tl_ring_free(r) end -- tcp_buf_release_timer
        else
          -- the whole ring acknowledged at once (tcp_buf_drained follows)
          C.tl_ring_drop(r, #held)
          held = ""
          assert.are.equal(0, C.tl_ring_ext_bytes(r), where)
        end
        assert.are.equal(#held, r.len, where)
        assert.are.equal(cap, r.cap, where)
        if r.buf ~= nil then assert.is_true(r.size <= cap, where .. ": storage " .. r.size) end
        assert.is_true(r.head <= math.max(r.size, 0), where)
      end
      assert.are.equal(held, read(r, #held))
      assert.are.equal(0, C.tl_ring_ext_bytes(r))
    end
  end

  it("matches a string model with kept storage, resizes, own_all and releases", function()
    model(4101, 80, 64, 300)
  end)

  it("the same with storage growth, wrapping and many pieces", function()
    model(4102, 30, 10 * C.TL_RING_MIN_ALLOC, 250)
  end)
end)
