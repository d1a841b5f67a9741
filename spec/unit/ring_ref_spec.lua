-- Borrowed bytes in the send ring (core/storage/ring.c: tl_ring_write_ref,
-- tl_ring_iov, tl_ring_own_all): the zero-copy half of tl_send_ref.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local rt = require "helpers.ringtest"
local ring, buffer, write, peek, read, iov, idle = rt.ring, rt.buffer, rt.write, rt.peek, rt.read, rt.iov, rt.idle
local MIN = C.TL_RING_MIN_ALLOC

describe("send ring with borrowed bytes", function()
  it("reads borrowed bytes in order with copied ones, without copying them in", function()
    local r = ring(100000)
    local a, b = buffer("BORROWED"), buffer("more")
    assert.are.equal(4, write(r, "copy"))
    assert.are.equal(8, C.tl_ring_write_ref(r, a, 8))
    assert.are.equal(4, write(r, "tail"))
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
    assert.are.equal(6, write(r, "abcdef"))
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
    write(r, "ab")
    C.tl_ring_write_ref(r, a, 4)
    write(r, "cd")
    assert.is_true(C.tl_ring_ext_bytes(r) > 0)
    assert.are.equal("ablen", read(r, 5))
    assert.is_true(C.tl_ring_ext_bytes(r) > 0)
    assert.are.equal("t", read(r, 1))
    assert.are.equal(0, C.tl_ring_ext_bytes(r)) -- only copied bytes are left
    assert.are.equal("cd", peek(r, 0, 2))
    assert.are.equal(2, (select(1, write(r, "ef"))))
    assert.are.equal("cdef", read(r, 4))
    assert.is_true(r.buf == nil)
  end)

  it("own_all copies the borrowed bytes in: the lender may then reuse its memory", function()
    local r = ring(64)
    local a = buffer("borrowed")
    write(r, "x")
    C.tl_ring_write_ref(r, a, 8)
    read(r, 3)
    assert.are.equal(0, C.tl_ring_own_all(r))
    assert.are.equal(0, C.tl_ring_ext_bytes(r))
    ffi.fill(a, 8, 0)
    assert.are.equal("rrowed", peek(r, 0, 6))
    assert.are.equal(6, r.len)
    assert.are.equal(1, write(r, "!"))
    assert.are.equal("rrowed!", read(r, 7))
  end)

  -- A random sequence of copied and borrowed writes, reads, peeks, spans,
  -- own_all and resizes against a string model. Storage never holds more
  -- than the copied bytes need, and the piece list exists exactly while
  -- borrowed bytes are held.
  -- m.runs: held bytes as runs { borrowed, length }, oldest first
  local function write(m, lent)
    local took = rt.write_op(m, 3 * MIN, lent)
    if took > 0 then m.runs[#m.runs + 1] = { lent, took } end
  end
  local ops = {
    function(m) write(m, false) end,
    function(m) write(m, true) end,
    function(m)
      local n = rt.read_op(m)
      local runs = m.runs
      while n > 0 and #runs > 0 do
        local take = math.min(n, runs[1][2])
        runs[1][2] = runs[1][2] - take
        n = n - take
        if runs[1][2] == 0 then table.remove(runs, 1) end
      end
    end,
    function(m) rt.peek_op(m, 2) end,
    function(m)
      local off = math.random(0, m.cap)
      local n = math.random(0, m.cap)
      local max = math.random(1, 8)
      local k, s = iov(m.r, off, n, max)
      if k >= 0 then assert.are.equal(m.held:sub(off + 1, off + n), s) end
    end,
    function(m)
      for i = 1, #m.runs do m.runs[i][1] = false end
      rt.own_all_op(m)
    end,
    function(m) rt.resize_op(m, #m.held) end,
  }
  local model = {
    ops = ops,
    start = function(m) m.runs = {} end,
    check = function(m)
      local r, borrowed = m.r, 0
      for i = 1, #m.runs do if m.runs[i][1] then borrowed = borrowed + m.runs[i][2] end end
      assert.are.equal(#m.held, r.len, "round " .. m.round)
      assert.are.equal(borrowed > 0, C.tl_ring_ext_bytes(r) > 0)
      if r.buf ~= nil then
        assert.is_true(r.size >= #m.held - borrowed and r.size <= m.cap, "storage " .. r.size)
      end
    end,
  }

  it("matches a string model over random copied and borrowed operations", function() rt.model(2071, 60, 64, 300, model) end)

  it("matches the model with storage growth, wrapping and many pieces", function() rt.model(2072, 30, 12 * MIN, 200, model) end)
end)

-- Review of the send ring's borrowed pieces (core/storage/ring.c) under what a
-- socket does to its send ring besides reading and writing: the storage
-- kept across drains (keep, core/tcp/tcp_buf.c), freed by the release timer
-- only when idle, capacity changes (TL_OPT_SNDBUF, autotuning) and
-- own_all at close, at random against a string model.
describe("send ring with borrowed bytes, reviewed", function()
  it("an all-borrowed ring has no storage, is never idle, and drains to a plain ring", function()
    local r = ring(100000, true)
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
    assert.are.equal(1, write(r, "x"))
    assert.are.equal("x", read(r, 1))
  end)

  it("own_all at close copies what is borrowed behind kept, wrapped storage", function()
    local r = ring(3 * MIN, true)
    -- wrap the storage: write and drain most of it
    assert.are.equal(MIN - 10, C.tl_ring_write(r, string.rep("a", MIN - 10), MIN - 10))
    C.tl_ring_drop(r, MIN - 10)
    assert.is_true(idle(r))
    assert.are.equal(20, C.tl_ring_write(r, string.rep("w", 20), 20)) -- wraps
    local b = buffer(string.rep("B", MIN))
    assert.are.equal(MIN, C.tl_ring_write_ref(r, b, MIN))
    assert.are.equal(30, C.tl_ring_write(r, string.rep("c", 30), 30))
    local want = string.rep("w", 20) .. string.rep("B", MIN) .. string.rep("c", 30)
    assert.are.equal(0, C.tl_ring_own_all(r))
    ffi.fill(b, MIN, 0x21) -- the lender reuses its memory
    assert.are.equal(want, peek(r, 0, #want))
    assert.are.equal(0, C.tl_ring_ext_bytes(r))
    assert.is_true(r.size >= #want and r.size <= r.cap)
  end)

  -- Random writes (copied and borrowed), acknowledgements (drops), peeks,
  -- spans, capacity changes, own_all and the release timer, on a ring
  -- that keeps its storage across drains as a socket's does.
  local function write(m, lent) rt.write_op(m, 2 * MIN, lent) end
  local ops = {
    function(m) write(m, false) end,
    function(m) write(m, true) end,
    function(m) write(m, true) end,
    function(m)
      local n = math.random(0, #m.held)
      C.tl_ring_drop(m.r, n)
      m.held = m.held:sub(n + 1)
    end,
    function(m)
      local off, n = rt.peek_op(m, 0)
      local k, s = iov(m.r, off, n, math.random(1, 6))
      if k >= 0 then assert.are.equal(m.held:sub(off + 1, off + n), s, m.where) end
    end,
    function(m) rt.resize_op(m, #m.held) end,
    rt.own_all_op,
    function(m)
      if idle(m.r) then C.tl_ring_free(m.r) end -- tcp_buf_release_timer
    end,
    function(m)
      -- the whole ring acknowledged at once (tcp_buf_drained follows)
      C.tl_ring_drop(m.r, #m.held)
      m.held = ""
      assert.are.equal(0, C.tl_ring_ext_bytes(m.r), m.where)
    end,
  }
  local model = {
    keep = true,
    ops = ops,
    check = function(m)
      local r, where = m.r, m.where
      assert.are.equal(#m.held, r.len, where)
      assert.are.equal(m.cap, r.cap, where)
      if r.buf ~= nil then assert.is_true(r.size <= m.cap, where .. ": storage " .. r.size) end
      assert.is_true(r.head <= math.max(r.size, 0), where)
    end,
  }

  it("matches a string model with kept storage, resizes, own_all and releases", function() rt.model(4101, 80, 64, 300, model) end)

  it("the same with storage growth, wrapping and many pieces", function() rt.model(4102, 30, 10 * MIN, 250, model) end)
end)
