-- The byte ring (core/storage/ring.c) from Lua, for the ring specs: fresh rings,
-- lent buffers, reads as strings, and a runner that checks random
-- operations against a string model.
--
--   local rt = require "helpers.ringtest"
--   local r = rt.ring(64)                 -- freed when collected
--   rt.write(r, "abc"); assert.are.equal("ab", rt.read(r, 2))
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local assert = require "luassert"

local M = {}

-- A ring of capacity cap. keep: storage kept across drains, as a socket's
-- send ring does (core/tcp/tcp_buf.c).
function M.ring(cap, keep)
  local r = ffi.new("struct tl_ring")
  C.tl_ring_init(r, cap)
  if keep then r.keep = 1 end
  return ffi.gc(r, C.tl_ring_free)
end

-- A writable buffer holding s: what a caller lends with write_ref.
function M.buffer(s)
  local b = ffi.new("uint8_t[?]", math.max(#s, 1))
  ffi.copy(b, s, #s)
  return b
end

function M.write(r, s) return C.tl_ring_write(r, s, #s) end

function M.peek(r, off, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  return ffi.string(buf, C.tl_ring_peek(r, off, buf, n))
end

function M.read(r, n)
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  return ffi.string(buf, C.tl_ring_read(r, buf, n))
end

-- tl_ring_spans: how many spans (0, 1 or 2) and their concatenation.
function M.spans(r, off, n)
  local p1, p2 = ffi.new("const uint8_t *[1]"), ffi.new("const uint8_t *[1]")
  local n1, n2 = ffi.new("uint32_t[1]"), ffi.new("uint32_t[1]")
  local k = C.tl_ring_spans(r, off, n, p1, n1, p2, n2)
  local s = ""
  if k >= 1 then s = s .. ffi.string(p1[0], n1[0]) end
  if k == 2 then s = s .. ffi.string(p2[0], n2[0]) end
  return k, s
end

-- The spans tl_ring_iov gives (count, or -1) and their concatenation.
function M.iov(r, off, n, max)
  local v = ffi.new("tl_iov[?]", max)
  local k = C.tl_ring_iov(r, off, n, v, max)
  local parts = {}
  for i = 0, k - 1 do parts[#parts + 1] = ffi.string(v[i].base, v[i].len) end
  return k, table.concat(parts)
end

-- tcp_buf.c's idle test: storage held, nothing in it.
function M.idle(r) return r.buf ~= nil and r.len == 0 and r.ahead == 0 end

-- Random operations against a string model. Each of `rounds` rounds makes
-- a ring of random capacity up to maxcap (o.keep: kept storage) and a model
-- m, calls o.start(m), then `steps` times runs one of o.ops picked at
-- random and o.check(m); at the end the ring must read back m.held and hold
-- nothing borrowed. m holds r, cap, maxcap, round, step, op, where (for
-- messages), space (cap - #held before the op), held (the bytes the ring
-- should hold), lent (buffers lent to it, kept alive) and bytes(n) (fresh
-- bytes).
function M.model(seed, rounds, maxcap, steps, o)
  math.randomseed(seed)
  for round = 1, rounds do
    local cap = math.random(1, maxcap)
    local m = { r = M.ring(cap, o.keep), cap = cap, maxcap = maxcap, round = round, held = "", lent = {} }
    local counter = 0
    function m.bytes(n)
      local t = {}
      for i = 1, n do counter = counter + 1; t[i] = string.char(counter % 251) end
      return table.concat(t)
    end
    if o.start then o.start(m) end
    for step = 1, steps do
      m.step, m.op = step, math.random(1, #o.ops)
      m.space = m.cap - #m.held
      m.where = ("round %d step %d op %d"):format(round, step, m.op)
      o.ops[m.op](m)
      o.check(m)
    end
    assert.are.equal(m.held, M.read(m.r, #m.held))
    assert.are.equal(0, C.tl_ring_ext_bytes(m.r))
  end
end

-- Model operations more than one spec uses.

-- Writes up to maxn fresh bytes, copied or (lent) borrowed; returns how
-- many the ring took.
function M.write_op(m, maxn, lent)
  local s = m.bytes(math.random(0, math.min(m.cap, maxn)))
  local took
  if lent then
    local b = M.buffer(s)
    m.lent[#m.lent + 1] = b
    took = C.tl_ring_write_ref(m.r, b, #s)
  else
    took = C.tl_ring_write(m.r, s, #s)
  end
  assert.are.equal(math.min(#s, m.space), took, m.where)
  m.held = m.held .. s:sub(1, took)
  return took
end

-- Reads up to the capacity; returns how many bytes it asked for.
function M.read_op(m)
  local n = math.random(0, m.cap)
  assert.are.equal(m.held:sub(1, n), M.read(m.r, n), m.where)
  m.held = m.held:sub(n + 1)
  return n
end

-- Peeks at held bytes, asking for up to `past` more than there are.
function M.peek_op(m, past)
  local off = math.random(0, #m.held)
  local n = math.random(0, #m.held - off + past)
  assert.are.equal(m.held:sub(off + 1, off + n), M.peek(m.r, off, n), m.where)
  return off, n
end

-- Sets a random capacity: refused below `need` bytes, taken otherwise.
function M.resize_op(m, need)
  local want = math.random(1, m.maxcap)
  if want < need then
    assert.are.equal(-1, C.tl_ring_resize(m.r, want), m.where)
  else
    assert.are.equal(0, C.tl_ring_resize(m.r, want), m.where)
    m.cap = want
  end
end

-- own_all, after which the lenders reuse their memory.
function M.own_all_op(m)
  assert.are.equal(0, C.tl_ring_own_all(m.r), m.where)
  for _, b in ipairs(m.lent) do ffi.fill(b, 1, 0xee) end
  m.lent = {}
end

return M
