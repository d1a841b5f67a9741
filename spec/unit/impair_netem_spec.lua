-- The link impairment's netem knobs, checked by the statistics a user
-- would check over a bounded run with a fixed seed: the 4-state and
-- Gilbert-Elliott chains' loss rate and mean burst length against their
-- theory, correlated events and delays, the jitter distributions, slot
-- pacing and rate with packet and cell overheads.
local impairh = require "helpers.impairh"
local C = require("tcplua.core").C

-- Delivery calls back from C into Lua (see helpers/impairh.lua).
jit.off(true, true)

local harness, pkt = impairh.harness, impairh.pkt
local LOST = 2

-- Pushes n numbered packets 1 ms apart and returns the loss pattern:
-- lost[i] = true for each packet that never came out.
local function loss_pattern(cfg, n, seed)
  local h = harness(cfg, seed)
  for i = 1, n do h.push(pkt(i), i * 1000) end
  h.drain()
  local got = {}
  for _, o in ipairs(h.out) do got[o.seq] = true end
  local lost, nlost = {}, 0
  for i = 1, n do
    lost[i] = not got[i]
    if lost[i] then nlost = nlost + 1 end
  end
  assert.are.equal(nlost, h.count(LOST))
  h.free()
  return lost, nlost
end

-- Loss rate, mean run of consecutive losses, and the lag-1
-- autocorrelation of the loss indicator.
local function loss_stats(lost)
  local n, nl, runs = #lost, 0, 0
  for i = 1, n do
    if lost[i] then
      nl = nl + 1
      if i == 1 or not lost[i - 1] then runs = runs + 1 end
    end
  end
  local p = nl / n
  local cov = 0
  for i = 2, n do cov = cov + ((lost[i] and 1 or 0) - p) * ((lost[i - 1] and 1 or 0) - p) end
  return p, nl / runs, cov / (n - 1) / (p * (1 - p))
end

local function lag1(xs)
  local n, m = #xs, 0
  for i = 1, n do m = m + xs[i] end
  m = m / n
  local num, den = 0, 0
  for i = 1, n do
    den = den + (xs[i] - m) ^ 2
    if i > 1 then num = num + (xs[i] - m) * (xs[i - 1] - m) end
  end
  return num / den, m, math.sqrt(den / n)
end

local function near(want, got, tol, what)
  assert.is_true(math.abs(got - want) <= tol, ("%s: want %.4f +- %.4f, got %.4f"):format(what, want, tol, got))
end

describe("impairment, netem's knobs", function()
  it("4-state loss (netem `loss state`) matches the chain's loss rate and mean burst", function()
    local p13, p31, p32, p23, p14 = 0.05, 0.3, 0.2, 0.4, 0.02
    local lost = loss_pattern({ loss_model = C.TL_LOSS_STATE, loss_p = { p13, p31, p32, p23, p14 } }, 200000, 7)
    -- Stationary distribution from the balance equations: pi3 p31 = pi1 p13,
    -- pi2 p23 = pi3 p32, pi4 = pi1 p14.
    local r3, r4 = p13 / p31, p14
    local r2 = r3 * p32 / p23
    local pi1 = 1 / (1 + r2 + r3 + r4)
    local rate = pi1 * (r3 + r4)
    -- a burst begins on entering 4, or entering 3 from 1 or 2
    local starts = pi1 * (p13 + p14) + pi1 * r2 * p23
    local p, burst = loss_stats(lost)
    near(rate, p, 0.01, "loss rate")
    near(rate / starts, burst, 0.08 * rate / starts, "mean burst")
  end)

  it("Gilbert-Elliott (netem `loss gemodel p r 1-h 1-k`) matches its loss rate and burst", function()
    local gp, gr = 0.01, 0.3
    local lost = loss_pattern({ loss_model = C.TL_LOSS_GEMODEL, loss_p = { gp, gr, 1, 0 } }, 200000, 8)
    local p, burst = loss_stats(lost)
    near(gp / (gp + gr), p, 0.006, "loss rate")
    near(1 / gr, burst, 0.35, "mean burst")
  end)

  it("correlated loss keeps its rate and has the set lag-1 correlation", function()
    local lost = loss_pattern({ loss = 0.05, loss_corr = 0.5 }, 200000, 9)
    local p, burst, rho = loss_stats(lost)
    near(0.05, p, 0.006, "loss rate")
    near(0.5, rho, 0.05, "lag-1 correlation")
    near(1 / (0.95 * 0.5), burst, 0.15, "mean burst")
    -- and without correlation the losses are independent
    local _, _, rho0 = loss_stats((loss_pattern({ loss = 0.05 }, 200000, 9)))
    near(0, rho0, 0.02, "uncorrelated lag-1")
  end)

  it("correlated duplication and corruption keep their rates, duplicates come in runs", function()
    local n = 50000
    local h = harness({ corrupt = 0.1, corrupt_corr = 0.6 }, 10)
    for i = 1, n do h.push(pkt(i), 0) end
    near(0.1 * n, h.count(5), 500, "corrupted")
    h.free()
    h = harness({ duplicate = 0.1, duplicate_corr = 0.6 }, 10)
    for i = 1, n do h.push(pkt(i), 0) end
    near(0.1 * n, h.count(3), 500, "duplicated")
    local seen, dup = {}, {}
    for _, o in ipairs(h.out) do
      if seen[o.seq] then dup[o.seq] = true end
      seen[o.seq] = true
    end
    local ind = {}
    for i = 1, n do ind[i] = dup[i] and 1 or 0 end
    near(0.6, (lag1(ind)), 0.05, "lag-1 correlation of duplication")
    h.free()
  end)

  -- Latency of each packet in sending order, packets pushed 1 ms apart.
  local function latencies(cfg, n, seed)
    local h = harness(cfg, seed)
    local sent = {}
    for i = 1, n do
      sent[i] = i * 1000
      h.run_until(sent[i])
      h.push(pkt(i))
    end
    h.drain()
    assert.are.equal(n, #h.out)
    local lat = {}
    for _, o in ipairs(h.out) do lat[o.seq] = o.t - sent[o.seq] end
    h.free()
    return lat
  end

  it("correlated uniform jitter: lag-1 correlation near the set value, shape kept", function()
    local lat = latencies({ delay_us = 20000, jitter_us = 5000, delay_corr = 0.5 }, 20000, 11)
    local rho, mean, sd = lag1(lat)
    near(0.5, rho, 0.05, "lag-1 correlation")
    near(20000, mean, 150, "mean latency")
    near(5000 / math.sqrt(3), sd, 150, "sd (uniform over +-5 ms)")
    local lo, hi = math.huge, -math.huge
    for _, l in ipairs(lat) do lo, hi = math.min(lo, l), math.max(hi, l) end
    assert.is_true(lo >= 15000 and hi <= 25000, ("latency %d..%d"):format(lo, hi))
    -- the same without correlation: independent
    local rho0 = lag1(latencies({ delay_us = 20000, jitter_us = 5000 }, 20000, 11))
    near(0, rho0, 0.03, "uncorrelated lag-1")
  end)

  it("normal, pareto and paretonormal jitter have netem's means and spreads", function()
    local lat = latencies({ delay_us = 50000, jitter_us = 5000, delay_dist = C.TL_DIST_NORMAL }, 20000, 12)
    local rho, mean, sd = lag1(lat)
    near(50000, mean, 150, "normal mean")
    near(5000, sd, 200, "normal sd")
    near(0, rho, 0.03, "normal lag-1")
    local corr = lag1(latencies({ delay_us = 50000, jitter_us = 5000, delay_dist = C.TL_DIST_NORMAL, delay_corr = 0.3 },
      20000, 12))
    near(2 * math.sin(math.pi * 0.3 / 6), corr, 0.05, "normal correlated lag-1")
    for _, d in ipairs({ { C.TL_DIST_PARETO, "pareto" }, { C.TL_DIST_PARETONORMAL, "paretonormal" } }) do
      lat = latencies({ delay_us = 50000, jitter_us = 5000, delay_dist = d[1] }, 20000, 13)
      local _, m = lag1(lat)
      local lo, hi = math.huge, -math.huge
      for _, l in ipairs(lat) do lo, hi = math.min(lo, l), math.max(hi, l) end
      near(50000, m, 300, d[2] .. " mean")
      -- heavy right tail, short left one
      assert.is_true(hi - m > 2 * (m - lo), ("%s: %d..%d around %d"):format(d[2], lo, hi, m))
    end
  end)

  -- Departure instants and how many packets left at each.
  local function bursts(out)
    local list = {}
    for _, o in ipairs(out) do
      local b = list[#list]
      if b and b.t == o.t then
        b.n = b.n + 1
      else
        list[#list + 1] = { t = o.t, n = 1 }
      end
    end
    return list
  end

  it("slot releases packets in bursts of `packets N` at slot boundaries", function()
    local h = harness({ slot_min_us = 10000, slot_max_us = 10000, slot_packets = 4 }, 14)
    for i = 1, 40 do h.push(pkt(i), 0) end
    assert.are.equal(0, #h.out)
    h.drain()
    local b = bursts(h.out)
    assert.are.equal(10, #b)
    for k, x in ipairs(b) do
      assert.are.equal(4, x.n)
      assert.are.equal(k * 10000, x.t)
    end
    for i, o in ipairs(h.out) do assert.are.equal(i, o.seq) end
    h.free()
  end)

  it("slot with `bytes N` closes a slot once its bytes are used", function()
    local h = harness({ slot_min_us = 5000, slot_max_us = 5000, slot_bytes = 3000 }, 15)
    for i = 1, 30 do h.push(pkt(i, 1000), 0) end
    h.drain()
    local b = bursts(h.out)
    assert.are.equal(10, #b)
    for k, x in ipairs(b) do
      assert.are.equal(3, x.n)
      assert.are.equal(k * 5000, x.t)
    end
    h.free()
  end)

  it("slot MIN MAX: steady traffic leaves in bursts spaced min..max apart", function()
    local h = harness({ slot_min_us = 8000, slot_max_us = 12000 }, 16)
    for i = 1, 2000 do
      h.run_until(i * 500)
      h.push(pkt(i))
    end
    h.drain()
    assert.are.equal(2000, #h.out)
    local b = bursts(h.out)
    -- 1 s of traffic in slots of 8..12 ms: about 100 bursts of about 20
    near(100, #b, 12, "bursts")
    for k = 2, #b do
      local gap = b[k].t - b[k - 1].t
      assert.is_true(gap >= 8000 and gap <= 12500, "gap " .. gap)
    end
    assert.is_true(h.count(8) >= #b, "slots drawn")
    h.free()
  end)

  it("slot with a distribution: mean slot length as set", function()
    local h = harness({ slot_min_us = 10000, slot_jitter_us = 2000, slot_dist = C.TL_DIST_NORMAL, slot_packets = 1 }, 17)
    for i = 1, 1000 do h.push(pkt(i), 0) end
    h.drain()
    assert.are.equal(1000, #h.out)
    near(10000, h.out[1000].t / 1000, 200, "mean slot")
    h.free()
  end)

  it("rate with packet overhead and cells spaces packets by whole cells", function()
    -- ATM-like: 1 Mbit/s, 14 bytes of framing, 48-byte cells carried in 53
    local h = harness({ rate_bps = 1e6, rate_overhead = 14, rate_cell = 48, rate_cell_overhead = 5 }, 18)
    local sizes = { 100, 34, 35, 1500, 20 }
    for i, n in ipairs(sizes) do h.push(pkt(i, n), 0) end
    h.drain()
    local t = 0
    for i, n in ipairs(sizes) do
      local wire = math.ceil((n + 14) / 48) * 53
      t = t + wire * 8 -- microseconds at 1 Mbit/s
      assert.are.equal(t, h.out[i].t, "packet " .. i .. " of " .. n .. " bytes")
    end
    -- overhead alone (no cells), and a negative one
    h.free()
    h = harness({ rate_bps = 8e6, rate_overhead = -20 }, 18)
    for i = 1, 10 do h.push(pkt(i, 1020), 0) end
    h.drain()
    assert.are.equal(10000, h.out[10].t) -- 1000 bytes each at 1 byte/us
    h.free()
  end)

  it("repeats every new mode for a seed", function()
    local function pattern(seed)
      local h = harness({ loss_model = C.TL_LOSS_STATE, loss_p = { 0.05, 0.3, 0.2, 0.4, 0.02 }, delay_us = 2000,
        jitter_us = 1000, delay_corr = 0.4, delay_dist = C.TL_DIST_PARETONORMAL, duplicate = 0.05,
        duplicate_corr = 0.3, slot_min_us = 1000, slot_max_us = 3000, slot_packets = 3,
        rate_bps = 1e7, rate_overhead = 38 }, seed)
      for i = 1, 500 do
        h.run_until(i * 300)
        h.push(pkt(i))
      end
      h.drain()
      local t = {}
      for i, o in ipairs(h.out) do t[i] = o.seq .. "@" .. o.t end
      h.free()
      return table.concat(t, ",")
    end
    assert.are.equal(pattern(5), pattern(5))
    assert.are_not.equal(pattern(5), pattern(6))
  end)
end)
