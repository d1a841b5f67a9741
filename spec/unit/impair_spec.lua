-- The impairment wrapper: loss, duplication, reordering, corruption, delay
-- with jitter and rate limits behave as configured and repeat per seed.
local core = require "tcplua.core"
local C = core.C

-- Delivery comes back through a C callback into Lua: keep this file out of
-- the JIT so no trace calls into C that calls back (LuaJIT restriction).
jit.off(true, true)

local IN, OUT, LOST, DUP, REORDERED, CORRUPTED, OVERFLOW = 0, 1, 2, 3, 4, 5, 6

local impairh = require "helpers.impairh"
local harness = impairh.harness

local function pkt(i) return impairh.pkt(i) end

describe("impairment", function()
  it("passes everything through untouched, at once, when unconfigured", function()
    local h = harness()
    for i = 1, 100 do h.push(pkt(i), i) end
    assert.are.equal(100, #h.out)
    for i = 1, 100 do
      assert.are.equal(pkt(i), h.out[i].data)
      assert.are.equal(i, h.out[i].t)
    end
    assert.are.equal(-1, tonumber(C.tl_impair_poll(h.im, 1000)))
    h.free()
  end)

  it("loses about the configured share", function()
    local h = harness({ loss = 0.1 }, 42)
    for i = 1, 10000 do h.push(pkt(i), 0) end
    local lost = h.count(LOST)
    -- binomial(10000, 0.1): sd is 30, so +-150 is five sigma
    assert.is_true(math.abs(lost - 1000) < 150, "lost " .. lost)
    assert.are.equal(10000 - lost, #h.out)
    assert.are.equal(10000, h.count(IN))
    h.free()
  end)

  it("duplicates about the configured share", function()
    local h = harness({ duplicate = 0.2 }, 43)
    for i = 1, 10000 do h.push(pkt(i), 0) end
    local dup = h.count(DUP)
    assert.is_true(math.abs(dup - 2000) < 200, "dup " .. dup)
    assert.are.equal(10000 + dup, #h.out)
    h.free()
  end)

  it("really reorders, and loses nothing doing it", function()
    local h = harness({ reorder = 0.1, reorder_gap = 3 }, 44)
    for i = 1, 2000 do h.push(pkt(i), i * 10) end
    h.drain()
    assert.are.equal(2000, #h.out)
    local seen, inversions = {}, 0
    for i, o in ipairs(h.out) do
      seen[o.seq] = true
      if i > 1 and o.seq < h.out[i - 1].seq then inversions = inversions + 1 end
    end
    for i = 1, 2000 do assert.is_true(seen[i], "missing " .. i) end
    assert.is_true(inversions > 100, "inversions " .. inversions)
    local held = h.count(REORDERED)
    assert.is_true(math.abs(held - 200) < 60, "held back " .. held)
    -- reordering stays local: with a gap of 3 a packet moves a few places
    for i, o in ipairs(h.out) do assert.is_true(math.abs(o.seq - i) <= 12, "packet " .. o.seq .. " at " .. i) end
    h.free()
  end)

  it("corrupts exactly one bit of the chosen packets", function()
    local h = harness({ corrupt = 0.5 }, 45)
    for i = 1, 1000 do h.push(pkt(i), 0) end
    assert.are.equal(1000, #h.out)
    local corrupted = h.count(CORRUPTED)
    assert.is_true(math.abs(corrupted - 500) < 80, "corrupted " .. corrupted)
    -- no reordering configured: compare in order, count flipped bits
    local flipped = 0
    for i, o in ipairs(h.out) do
      local orig, bits = pkt(i), 0
      for k = 1, #orig do
        local x = bit.bxor(orig:byte(k), o.data:byte(k))
        while x ~= 0 do
          bits = bits + bit.band(x, 1)
          x = bit.rshift(x, 1)
        end
      end
      assert.is_true(bits <= 1, "packet " .. i .. " has " .. bits .. " flipped bits")
      flipped = flipped + bits
    end
    assert.are.equal(corrupted, flipped)
    h.free()
  end)

  it("delays by the fixed delay plus jitter within bounds", function()
    local h = harness({ delay_us = 10000, jitter_us = 2000 }, 46)
    local sent = {}
    for i = 1, 3000 do
      sent[i] = i * 7
      h.now = sent[i]
      C.tl_impair_poll(h.im, h.now)
      h.push(pkt(i))
    end
    h.drain()
    assert.are.equal(3000, #h.out)
    local lo, hi = math.huge, -math.huge
    for _, o in ipairs(h.out) do
      local lat = o.t - sent[o.seq]
      lo, hi = math.min(lo, lat), math.max(hi, lat)
    end
    assert.is_true(lo >= 8000 and hi <= 12000, ("latency %d..%d"):format(lo, hi))
    -- the jitter is really used across its range
    assert.is_true(lo < 8200 and hi > 11800, ("latency %d..%d"):format(lo, hi))
    h.free()
  end)

  it("holds the configured rate", function()
    local h = harness({ rate_bps = 10e6 }, 47)
    -- 1000 packets of 1250 bytes = 10 Mbit: one second at 10 Mbit/s
    local big = string.rep("r", 1250)
    for i = 1, 1000 do h.push(string.format("%06d", i) .. big:sub(7), 0) end
    assert.are.equal(0, #h.out)
    h.drain()
    assert.are.equal(1000, #h.out)
    local last = h.out[1000].t
    assert.is_true(math.abs(last - 1000000) <= 1000, "last at " .. last)
    -- evenly spaced: one packet every millisecond
    for i = 2, 1000 do assert.is_true(math.abs(h.out[i].t - h.out[i - 1].t - 1000) <= 1) end
    h.free()
  end)

  it("holds a high rate with small packets too", function()
    local h = harness({ rate_bps = 1e9 }, 49)
    -- 60-byte packets at 1 Gbit/s: 0.48 us each, 4,000 of them take 1.92 ms
    local s = string.rep("s", 60)
    for _ = 1, 4000 do h.push(s, 0) end
    h.drain()
    assert.are.equal(4000, #h.out)
    assert.is_true(math.abs(h.out[4000].t - 1920) <= 1, "last at " .. h.out[4000].t)
    h.free()
  end)

  it("drops what does not fit in the queue, and counts it", function()
    local h = harness({ delay_us = 1000, queue_max = 10 }, 48)
    for i = 1, 25 do h.push(pkt(i), 0) end
    assert.are.equal(15, h.count(OVERFLOW))
    h.drain()
    assert.are.equal(10, #h.out)
    -- slots come back after delivery
    for i = 1, 10 do h.push(pkt(i), h.now) end
    h.drain()
    assert.are.equal(20, #h.out)
    h.free()
  end)

  it("repeats its pattern for a seed and changes it with the seed", function()
    local function pattern(seed)
      local h = harness({ loss = 0.2, duplicate = 0.1, reorder = 0.1, jitter_us = 500, delay_us = 1000 }, seed)
      for i = 1, 500 do h.push(pkt(i), i * 100) end
      h.drain()
      local t = {}
      for i, o in ipairs(h.out) do t[i] = o.seq .. "@" .. o.t end
      h.free()
      return table.concat(t, ",")
    end
    assert.are.equal(pattern(9), pattern(9))
    assert.are_not.equal(pattern(9), pattern(10))
  end)

  -- Found by fuzz/fuzz_input.c: an empty datagram took a never-used slot
  -- and was copied with memcpy(NULL, p, 0), undefined behaviour that the
  -- SANITIZE=1 build stops on.
  it("passes an empty datagram on like any other", function()
    local h = harness({ delay_us = 100 })
    h.push("", 0)
    h.push("1 after", 0)
    h.drain()
    assert.are.equal(2, #h.out)
    assert.are.equal("", h.out[1].data)
    assert.are.equal(100, h.out[1].t)
    assert.are.equal(2, h.count(OUT))
    h.free()
  end)
end)
