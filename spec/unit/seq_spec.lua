-- Sequence number arithmetic modulo 2^32 (RFC 9293 3.4, RFC 1982).
local core = require "tcplua.core"
local C = core.C

local M = 2 ^ 32
local function u32(x) return x % M end
-- Reference: signed distance a - b on the circle, in [-2^31, 2^31).
local function diff(a, b)
  local d = (a - b) % M
  if d >= 2 ^ 31 then d = d - M end
  return d
end

describe("sequence arithmetic", function()
  it("orders numbers across the 2^32 wrap", function()
    assert.is_true(C.tl_seq_lt(0xfffffff0, 0x10) ~= 0)
    assert.is_true(C.tl_seq_gt(0x10, 0xfffffff0) ~= 0)
    assert.are.equal(0x20, C.tl_seq_diff(0x10, 0xfffffff0))
    assert.are.equal(-0x20, C.tl_seq_diff(0xfffffff0, 0x10))
    assert.are.equal(0x10, C.tl_seq_max(0xfffffff0, 0x10))
    assert.are.equal(0xfffffff0, C.tl_seq_min(0xfffffff0, 0x10))
  end)

  it("treats equal numbers as leq and geq but not lt or gt", function()
    for _, v in ipairs({ 0, 1, 0x7fffffff, 0x80000000, 0xffffffff }) do
      assert.are.equal(0, C.tl_seq_lt(v, v))
      assert.are.equal(0, C.tl_seq_gt(v, v))
      assert.are.equal(1, C.tl_seq_leq(v, v))
      assert.are.equal(1, C.tl_seq_geq(v, v))
    end
  end)

  it("window membership lo <= x < hi works when the window wraps", function()
    local lo, hi = 0xffffff00, 0x100
    assert.are.equal(1, C.tl_seq_in(0xffffff00, lo, hi))
    assert.are.equal(1, C.tl_seq_in(0xffffffff, lo, hi))
    assert.are.equal(1, C.tl_seq_in(0, lo, hi))
    assert.are.equal(1, C.tl_seq_in(0xff, lo, hi))
    assert.are.equal(0, C.tl_seq_in(0x100, lo, hi))
    assert.are.equal(0, C.tl_seq_in(0xfffffeff, lo, hi))
    -- an empty window holds nothing
    assert.are.equal(0, C.tl_seq_in(5, 5, 5))
  end)

  it("agrees with a reference model on random pairs", function()
    math.randomseed(6528)
    for _ = 1, 5000 do
      local a = math.random(0, M - 1)
      local d = math.random(-2 ^ 31 + 1, 2 ^ 31 - 1)
      local b = u32(a + d)
      assert.are.equal(diff(b, a), C.tl_seq_diff(b, a))
      assert.are.equal(diff(b, a) < 0 and 1 or 0, C.tl_seq_lt(b, a))
      assert.are.equal(diff(b, a) <= 0 and 1 or 0, C.tl_seq_leq(b, a))
      assert.are.equal(diff(b, a) > 0 and 1 or 0, C.tl_seq_gt(b, a))
      assert.are.equal(diff(b, a) >= 0 and 1 or 0, C.tl_seq_geq(b, a))
      local w = math.random(0, 2 ^ 30)
      local x = u32(a + math.random(-2 ^ 30, 2 ^ 31))
      local inside = diff(x, a) >= 0 and diff(x, a) < w
      assert.are.equal(inside and 1 or 0, C.tl_seq_in(x, a, u32(a + w)))
    end
  end)
end)
