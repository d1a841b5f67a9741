-- The fault library's netem models over synthetic segments with fixed
-- seeds, checked by the statistics a user would check: the 4-state chain's
-- loss rate and mean burst against its theory, correlated loss and delay,
-- slot bursts at slot boundaries, rate with packet and cell overheads,
-- and fault.netem's netem words.
local fault = require "tcplua.fault"

local function seg(i, size)
  return { src = "10.77.0.1", dst = "10.77.0.2", sport = 40000, dport = 80, seq = 1000 + i * 100, ack = 1,
    flags = "P.", win = 65535, len = 100, size = size or 140 }
end

-- Loss pattern of policy over n segments 1 ms apart: rate, mean run of
-- consecutive losses, lag-1 autocorrelation.
local function loss_stats(policy, n)
  local lost = {}
  for i = 1, n do
    local v = fault.normalize(policy(seg(i), "out", nil, i))
    lost[i] = v ~= nil and v.drop == true
  end
  local nl, runs = 0, 0
  for i = 1, n do
    if lost[i] then
      nl = nl + 1
      if i == 1 or not lost[i - 1] then runs = runs + 1 end
    end
  end
  local p, cov = nl / n, 0
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

-- Delays (ms) a policy gives n segments arriving 1 ms apart, 0 when none.
local function delays(policy, n, size)
  local d = {}
  for i = 1, n do
    local v = fault.normalize(policy(seg(i, size), "out", nil, i))
    d[i] = v and v.delay or 0
  end
  return d
end

describe("fault library, netem models", function()
  before_each(function()
    fault.seed(21)
    fault.reset_stats()
  end)

  it("loss_state: the 4-state chain's loss rate and mean burst", function()
    local p13, p31, p32, p23, p14 = 0.05, 0.3, 0.2, 0.4, 0.02
    local p, burst = loss_stats(fault.loss_state(p13, p31, p32, p23, p14), 200000)
    local r3, r4 = p13 / p31, p14
    local r2 = r3 * p32 / p23
    local pi1 = 1 / (1 + r2 + r3 + r4)
    local rate = pi1 * (r3 + r4)
    local mean = rate / (pi1 * (p13 + p14) + pi1 * r2 * p23)
    near(rate, p, 0.01, "loss rate")
    near(mean, burst, 0.08 * mean, "mean burst")
    assert.is_true(fault.stats().loss_state > 0)
    -- iproute2's defaults: only p13 given is Bernoulli loss at p13
    local p1, b1 = loss_stats(fault.loss_state { p13 = 0.1 }, 100000)
    near(0.1, p1, 0.006, "p13 alone")
    near(1 / 0.9, b1, 0.05, "p13 alone, burst")
  end)

  it("loss(p, corr): the rate stays p, lag-1 correlation is corr", function()
    local p, burst, rho = loss_stats(fault.loss(0.05, 0.5), 200000)
    near(0.05, p, 0.006, "rate")
    near(0.5, rho, 0.05, "lag-1")
    near(1 / (0.95 * 0.5), burst, 0.15, "mean burst")
    local _, _, rho0 = loss_stats(fault.loss(0.05), 200000)
    near(0, rho0, 0.02, "uncorrelated lag-1")
  end)

  it("duplicate, corrupt and reorder take a correlation too", function()
    for _, name in ipairs({ "duplicate", "corrupt" }) do
      local pol, hits, prev, both = fault[name](0.1, { corr = 0.6 }), 0, false, 0
      for i = 1, 50000 do
        local hit = pol(seg(i), "out", nil, i) ~= nil
        if hit then hits = hits + 1 end
        if hit and prev then both = both + 1 end
        prev = hit
      end
      near(5000, hits, 500, name)
      -- P(hit | hit) = p + corr (1 - p) = 0.64
      near(0.64, both / hits, 0.04, name .. " after " .. name)
    end
    local d = delays(fault.reorder(0.2, 10, { corr = 0.5 }), 50000)
    for i = 1, #d do d[i] = d[i] > 0 and 1 or 0 end
    local rho, m = lag1(d)
    near(0.2, m, 0.01, "reorder rate")
    near(0.5, rho, 0.05, "reorder lag-1")
  end)

  it("delay with corr: lag-1 correlation near corr, uniform shape kept", function()
    local d = delays(fault.delay(20, 5, "uniform", { corr = 0.5 }), 20000)
    local rho, m, sd = lag1(d)
    near(0.5, rho, 0.05, "lag-1")
    near(20, m, 0.15, "mean")
    near(5 / math.sqrt(3), sd, 0.15, "sd")
    for _, x in ipairs(d) do assert.is_true(x >= 15 and x <= 25, "delay " .. x) end
    near(0, (lag1(delays(fault.delay(20, 5), 20000))), 0.03, "uncorrelated lag-1")
    -- normal: the Gaussian AR(1) coefficient 2 sin(pi corr / 6)
    local rn, mn, sdn = lag1(delays(fault.delay { ms = 50, jitter = 5, distribution = "normal", corr = 0.3 }, 20000))
    near(2 * math.sin(math.pi * 0.3 / 6), rn, 0.05, "normal lag-1")
    near(50, mn, 0.2, "normal mean")
    near(5, sdn, 0.25, "normal sd")
  end)

  it("paretonormal delay: netem's mix, mean at the delay, long right tail", function()
    local d = delays(fault.delay(50, 5, "paretonormal"), 20000)
    local _, m = lag1(d)
    local lo, hi = math.huge, -math.huge
    for _, x in ipairs(d) do lo, hi = math.min(lo, x), math.max(hi, x) end
    near(50, m, 0.3, "mean")
    assert.is_true(hi - m > 2 * (m - lo), ("%.1f..%.1f around %.1f"):format(lo, hi, m))
    assert.has_error(function() fault.delay(5, 1, "cauchy") end)
  end)

  it("slot: bursts of `packets` at slot boundaries", function()
    local pol = fault.slot(10, 10, { packets = 4 })
    local rel = {}
    for i = 1, 40 do
      local v = fault.normalize(pol(seg(i), "out", nil, 0))
      rel[i] = v and v.delay or 0
    end
    for i = 1, 40 do assert.are.equal(math.ceil(i / 4) * 10, rel[i], "segment " .. i) end
    -- the other direction has its own slots
    local v = fault.normalize(pol(seg(1), "in", nil, 0))
    assert.are.equal(10, v.delay)
    assert.are.equal(41, fault.stats().slot)
  end)

  it("slot: `bytes` closes a slot, and steady traffic leaves in bursts min..max apart", function()
    local pol = fault.slot { min = 5, max = 5, bytes = 3000 }
    for i = 1, 30 do
      local v = fault.normalize(pol(seg(i, 1000), "out", nil, 0))
      assert.are.equal(math.ceil(i / 3) * 5, v.delay, "segment " .. i)
    end
    pol = fault.slot(8, 12)
    local at, bursts = {}, {}
    for i = 1, 2000 do
      local now = i * 0.5
      local v = fault.normalize(pol(seg(i), "out", nil, now))
      local t = now + (v and v.delay or 0)
      if not at[t] then
        at[t] = true
        bursts[#bursts + 1] = t
      end
    end
    near(100, #bursts, 12, "bursts in 1 s")
    for k = 2, #bursts do
      local gap = bursts[k] - bursts[k - 1]
      assert.is_true(gap >= 8 and gap <= 12.5, "gap " .. gap)
    end
  end)

  it("rate with overhead and cells: spacing by whole cells", function()
    -- 1 Mbit/s, no burst, 14 bytes framing, 48-byte cells carried in 53
    local pol = fault.rate(1e6, 0, { per = "shared", overhead = 14, cell = 48, cell_overhead = 5 })
    local sizes, t = { 100, 34, 35, 1500, 20 }, 0
    for i, n in ipairs(sizes) do
      local v = fault.normalize(pol(seg(i, n), "out", nil, 0))
      t = t + math.ceil((n + 14) / 48) * 53 * 8 / 1000 -- ms
      near(t, v.delay, 1e-9, "segment " .. i .. " of " .. n .. " bytes")
    end
  end)

  it("netem(words): a policy from a tc-netem line, seeded", function()
    local function verdicts(seed)
      fault.seed(seed)
      local pol = fault.netem("delay 20ms 5ms 25% distribution normal loss state 2% 30% duplicate 1% rate 10mbit 20 "
        .. "slot 1ms 3ms packets 4")
      local t = {}
      for i = 1, 300 do t[i] = fault.describe(fault.normalize(pol(seg(i, 1500), "out", nil, i * 0.5))) end
      return table.concat(t, "\n")
    end
    local a = verdicts(3)
    assert.are.equal(a, verdicts(3))
    assert.are_not.equal(a, verdicts(4))
    assert.matches("dropped by fault: loss_state", a)
    assert.matches("delay%+rate%+slot", a)
    -- netem's reorder: the picked segments skip the delay
    fault.seed(5)
    local d = delays(fault.netem("delay 10ms reorder 25%"), 20000)
    local skipped = 0
    for _, x in ipairs(d) do if x == 0 then skipped = skipped + 1 end end
    near(5000, skipped, 300, "sent at once")
    local ok, err = pcall(fault.netem, "loss state")
    assert.is_false(ok)
    assert.matches("fault.netem: .*missing", err)
  end)
end)
