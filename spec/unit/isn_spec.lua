-- RFC 6528 initial sequence numbers (core/tcp/isn.c).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function key(seed, random)
  local k = ffi.new("struct tl_isn_key")
  assert.are.equal(0, C.tl_isn_key_init(k, seed, random and 1 or 0))
  return k
end

local L, R = core.ip("10.77.0.2"), core.ip("10.77.0.1")

local function isn(k, lport, rport, now, laddr, raddr)
  return C.tl_isn(k, laddr or L, lport, raddr or R, rport, now)
end

describe("ISN (RFC 6528)", function()
  it("differs between 4-tuples at the same instant", function()
    local k = key(1)
    local seen, n = {}, 0
    for lport = 1000, 1010 do
      for rport = 40000, 40010 do
        local v = isn(k, lport, rport, 0)
        if not seen[v] then n = n + 1 end
        seen[v] = true
      end
    end
    assert.are.equal(121, n)
    assert.are_not.equal(isn(k, 80, 5000, 0), isn(k, 80, 5000, 0, L + 1))
    assert.are_not.equal(isn(k, 80, 5000, 0), isn(k, 80, 5000, 0, L, R + 1))
    -- swapping the ports is a different connection
    assert.are_not.equal(isn(k, 80, 5000, 0), isn(k, 5000, 80, 0))
  end)

  it("advances with the 4-microsecond clock (250 000 per second)", function()
    local k = key(7)
    local base = isn(k, 80, 5000, 0)
    local function delta(now) return (isn(k, 80, 5000, now) - base) % 2 ^ 32 end
    assert.are.equal(0, delta(3))
    assert.are.equal(1, delta(4))
    assert.are.equal(250000, delta(1000000))
    assert.are.equal(250000 * 3600 % 2 ^ 32, delta(3600 * 1000000))
  end)

  it("is deterministic per seed and differs between seeds", function()
    assert.are.equal(isn(key(42), 80, 5000, 123456), isn(key(42), 80, 5000, 123456))
    assert.are_not.equal(isn(key(42), 80, 5000, 0), isn(key(43), 80, 5000, 0))
    local a, b = key(42), key(42)
    assert.are.equal(ffi.string(a.k, 16), ffi.string(b.k, 16))
  end)

  it("draws a random key when asked", function()
    local a, b = key(42, true), key(42, true)
    assert.are_not.equal(ffi.string(a.k, 16), ffi.string(b.k, 16))
    assert.are_not.equal(ffi.string(a.k, 16), ffi.string(key(42).k, 16))
  end)

  it("spreads ISNs over the whole 32-bit space", function()
    local k = key(3)
    local hi, lo = 0, 0
    for p = 1, 2000 do
      if isn(k, p, 80, 0) >= 2 ^ 31 then hi = hi + 1 else lo = lo + 1 end
    end
    -- a fair coin gives 1000 +- 3 sigma (~67)
    assert.is_true(math.abs(hi - lo) < 200, ("hi %d lo %d"):format(hi, lo))
  end)
end)
