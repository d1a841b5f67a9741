-- The bounded out-of-order range set (core/storage/assembler.c).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function asm()
  local a = ffi.new("struct tl_assembler")
  C.tl_asm_init(a)
  return a
end

local function ranges(a)
  local t = {}
  for i = 0, a.n - 1 do t[#t + 1] = { a.r[i].start, a.r[i]["end"] } end
  return t
end

-- Model: a byte bitmap; ranges are its maximal runs.
local function runs(bits, size)
  local t, i = {}, 0
  while i < size do
    if bits[i] then
      local s = i
      while bits[i] do i = i + 1 end
      t[#t + 1] = { s, i }
    else
      i = i + 1
    end
  end
  return t
end

describe("assembler", function()
  it("merges overlapping and adjacent ranges", function()
    local a = asm()
    assert.are.equal(0, C.tl_asm_add(a, 10, 5))
    assert.are.equal(0, C.tl_asm_add(a, 20, 5))
    assert.are.same({ { 10, 15 }, { 20, 25 } }, ranges(a))
    assert.are.equal(0, C.tl_asm_add(a, 15, 5)) -- fills the gap exactly
    assert.are.same({ { 10, 25 } }, ranges(a))
    assert.are.equal(0, C.tl_asm_add(a, 5, 30))
    assert.are.same({ { 5, 35 } }, ranges(a))
    assert.are.equal(30, C.tl_asm_bytes(a))
    assert.are.equal(35, C.tl_asm_highest(a))
    assert.are.equal(0, C.tl_asm_front(a))
  end)

  it("reports the contiguous front and advances past it", function()
    local a = asm()
    C.tl_asm_add(a, 4, 4)
    C.tl_asm_add(a, 0, 2)
    assert.are.equal(2, C.tl_asm_front(a))
    C.tl_asm_advance(a, 2)
    assert.are.same({ { 2, 6 } }, ranges(a))
    C.tl_asm_advance(a, 3) -- into the middle of a range
    assert.are.same({ { 0, 3 } }, ranges(a))
    assert.are.equal(3, C.tl_asm_front(a))
    C.tl_asm_advance(a, 10)
    assert.are.equal(0, a.n)
    assert.are.equal(0, C.tl_asm_highest(a))
  end)

  it("ignores empty ranges", function()
    local a = asm()
    assert.are.equal(0, C.tl_asm_add(a, 7, 0))
    assert.are.equal(0, a.n)
  end)

  it("refuses a range that would exceed the cap and changes nothing", function()
    local a = asm()
    for i = 0, C.TL_ASM_MAX - 1 do assert.are.equal(0, C.tl_asm_add(a, i * 10, 5)) end
    local before = ranges(a)
    assert.are.equal(-1, C.tl_asm_add(a, 1000, 5))
    assert.are.same(before, ranges(a))
    -- a range that merges with existing ones still fits
    assert.are.equal(0, C.tl_asm_add(a, 3, 10))
    assert.are.equal(C.TL_ASM_MAX - 1, a.n)
    assert.are.equal(-1, C.tl_asm_add(a, 0xfffffff0, 0x20)) -- wraps 2^32
  end)

  it("matches a byte-bitmap model on random adds and advances", function()
    math.randomseed(2018)
    local size = 200
    for _ = 1, 200 do
      local a, bits = asm(), {}
      for _ = 1, 40 do
        if math.random() < 0.8 then
          local off, len = math.random(0, size - 1), math.random(0, 20)
          local trial = {}
          for k, v in pairs(bits) do trial[k] = v end
          for i = off, off + len - 1 do trial[i] = true end
          local want = #runs(trial, size + 40) <= C.TL_ASM_MAX
          assert.are.equal(want and 0 or -1, C.tl_asm_add(a, off, len))
          if want then bits = trial end
        else
          local n = math.random(0, 30)
          C.tl_asm_advance(a, n)
          local nb = {}
          for k in pairs(bits) do if k >= n then nb[k - n] = true end end
          bits = nb
        end
        local model = runs(bits, size + 40)
        assert.are.same(model, ranges(a))
        local total = 0
        for _, r in ipairs(model) do total = total + r[2] - r[1] end
        assert.are.equal(total, C.tl_asm_bytes(a))
        assert.are.equal(#model > 0 and model[#model][2] or 0, C.tl_asm_highest(a))
        assert.are.equal((#model > 0 and model[1][1] == 0) and model[1][2] or 0, C.tl_asm_front(a))
      end
    end
  end)
end)
