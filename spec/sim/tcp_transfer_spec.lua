-- Byte-exact bulk transfer between two stacks under seeded loss,
-- reordering and duplication (virtual time; the seed is in every message).
local core = require "tcplua.core"
local C = core.C
local tcpsim = require "helpers.tcpsim"

local cache = {}
local function payload(size)
  cache[size] = cache[size] or tcpsim.bytes(size, size)
  return cache[size]
end

-- cc: TL_OPT_CONGESTION for both ends (nil: the default, CUBIC).
local function run(seed, size, imp, limit_us, cc)
  local w = tcpsim.pair { seed = seed, latency_us = 2000, impair_a = imp, impair_b = imp }
  local c, s = w:establish(80)
  if cc then
    C.tl_setopt(c, C.TL_OPT_CONGESTION, cc)
    C.tl_setopt(s, C.TL_OPT_CONGESTION, cc)
  end
  local data = payload(size)
  local got, fin = w:stream(c, s, data, limit_us)
  local back, fin2 = w:stream(s, c, data:reverse(), limit_us)
  return w, data, got, fin, back, fin2, c, s
end

local function check(seed, size, imp, limit_us, cc)
  local w, data, got, fin, back, fin2, c, s = run(seed, size, imp, limit_us, cc)
  local tag = ("seed %d, loss %s, %d bytes"):format(seed, tostring(imp and imp.loss or 0), size)
  assert(#got == #data, tag .. ": a->b received " .. #got .. " bytes")
  assert(got == data, tag .. ": a->b bytes differ")
  assert(fin, tag .. ": a->b FIN not seen")
  assert(#back == #data and back == data:reverse(), tag .. ": b->a received " .. #back .. " bytes, or different")
  assert(fin2, tag .. ": b->a FIN not seen")
  for _, st in ipairs({ w.a, w.b }) do
    assert(core.stats(st).drop_ip_out_too_big == 0, tag .. ": a segment did not fit the MTU")
  end
  if imp and imp.loss and imp.loss >= 0.1 then
    assert(w:info(c).total_retrans > 0, tag .. ": no retransmissions under loss")
  end
  C.tl_close(c, w:now())
  C.tl_close(s, w:now())
  return w
end

describe("tcp transfer", function()
  it("moves 1 MB each way byte-exact with no loss", function()
    local w = check(11, 1024 * 1024, nil, 30e6)
    assert.is_true(w:now() < 30e6)
  end)

  it("moves 1 MB each way byte-exact under 1% loss", function()
    check(12, 1024 * 1024, { loss = 0.01 }, 600e6)
  end)

  it("moves 1 MB each way byte-exact under 10% loss", function()
    check(13, 1024 * 1024, { loss = 0.10 }, 3000e6)
  end)

  it("moves 1 MB each way byte-exact for 200 seeds of loss (0, 1, 10 %), reordering and duplication", function()
    for seed = 100, 299 do
      local loss = ({ 0, 0.01, 0.10 })[seed % 3 + 1]
      local imp = { loss = loss, reorder = 0.05, duplicate = 0.02, jitter_us = 500 }
      check(seed, 1024 * 1024, imp, 3000e6)
    end
  end)

  it("moves 1 MB each way byte-exact with NewReno under 5% loss for 20 seeds", function()
    for seed = 400, 419 do
      local imp = { loss = 0.05, reorder = 0.05, duplicate = 0.02, jitter_us = 500 }
      check(seed, 1024 * 1024, imp, 3000e6, 1)
    end
  end)

  it("echoes 1 MB while sending it (both directions at once) under 10% loss, reordering and duplication", function()
    for seed = 5, 9 do
      local imp = { loss = 0.1, reorder = 0.05, duplicate = 0.01, jitter_us = 1000 }
      local w = tcpsim.pair { seed = seed, latency_us = 2000, impair_a = imp, impair_b = imp }
      local c, s = w:establish(7)
      local data = payload(1024 * 1024)
      local done, got = w:echo(c, s, data, 600e6)
      assert(done, "seed " .. seed .. ": echo did not finish")
      assert(got == data, "seed " .. seed .. ": echoed bytes differ")
    end
  end)
end)
