-- tl_impair_parse: tc-netem(8)'s argument words into a tl_impair_config,
-- with iproute2's defaults, the command line's units, and a message naming
-- the bad word.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function parse(line, base)
  local cfg = ffi.new("tl_impair_config", base or {})
  local err = ffi.new("char[160]")
  local rc = C.tl_impair_parse(cfg, line, err, 160)
  return rc, cfg, ffi.string(err)
end

local function ok(line, base)
  local rc, cfg, err = parse(line, base)
  assert.are.equal(0, rc, line .. ": " .. err)
  return cfg
end

local function close(a, b) assert.is_true(math.abs(a - b) < 1e-9, a .. " ~= " .. b) end

describe("netem words (tl_impair_parse)", function()
  it("reads delay with jitter, correlation and distribution", function()
    local c = ok("delay 100ms 10ms 25% distribution normal")
    assert.are.equal(100000, c.delay_us)
    assert.are.equal(10000, c.jitter_us)
    close(0.25, c.delay_corr)
    assert.are.equal(C.TL_DIST_NORMAL, c.delay_dist)
    c = ok("delay 1s distribution paretonormal")
    assert.are.equal(1000000, c.delay_us)
    assert.are.equal(C.TL_DIST_PARETONORMAL, c.delay_dist)
    -- a bare number is milliseconds, as the --delay flag
    assert.are.equal(20000, ok("delay 20").delay_us)
    assert.are.equal(500, ok("delay 500us").delay_us)
    -- the fields it does not name are kept (--jitter before --delay)
    assert.are.equal(3000, ok("delay 20ms", { jitter_us = 3000 }).jitter_us)
  end)

  it("reads the three loss models with iproute2's defaults", function()
    local c = ok("loss 1% 25%")
    assert.are.equal(C.TL_LOSS_RANDOM, c.loss_model)
    close(0.01, c.loss)
    close(0.25, c.loss_corr)
    close(0.05, ok("loss random 0.05").loss)
    c = ok("loss state 1%")
    assert.are.equal(C.TL_LOSS_STATE, c.loss_model)
    -- p31 = 1 - p13, p32 = 0, p23 = 1, p14 = 0
    local want = { 0.01, 0.99, 0, 1, 0 }
    for i = 0, 4 do close(want[i + 1], c.loss_p[i]) end
    c = ok("loss state 1% 30% 20% 40% 2%")
    want = { 0.01, 0.3, 0.2, 0.4, 0.02 }
    for i = 0, 4 do close(want[i + 1], c.loss_p[i]) end
    c = ok("loss gemodel 1% 30%")
    assert.are.equal(C.TL_LOSS_GEMODEL, c.loss_model)
    want = { 0.01, 0.3, 1, 0 }
    for i = 0, 3 do close(want[i + 1], c.loss_p[i]) end
    -- r defaults to 1 - p
    close(0.99, ok("loss gemodel 1%").loss_p[1])
  end)

  it("reads duplicate, corrupt, reorder with correlation, and reorder's gap", function()
    local c = ok("duplicate 1% 10% corrupt 0.1% reorder 25% 50% gap 5 limit 100")
    close(0.01, c.duplicate)
    close(0.1, c.duplicate_corr)
    close(0.001, c.corrupt)
    close(0.25, c.reorder)
    close(0.5, c.reorder_corr)
    assert.are.equal(5, c.reorder_gap)
    assert.are.equal(100, c.queue_max)
  end)

  it("reads rate with packet overhead, cell size and cell overhead", function()
    local c = ok("rate 1mbit 20 48 5")
    assert.are.equal(1000000, tonumber(c.rate_bps))
    assert.are.equal(20, c.rate_overhead)
    assert.are.equal(48, c.rate_cell)
    assert.are.equal(5, c.rate_cell_overhead)
    c = ok("rate 100kbps -20")
    assert.are.equal(800000, tonumber(c.rate_bps))
    assert.are.equal(-20, c.rate_overhead)
  end)

  it("reads slot in both forms", function()
    local c = ok("slot 10ms 20ms packets 4 bytes 3000")
    assert.are.equal(10000, c.slot_min_us)
    assert.are.equal(20000, c.slot_max_us)
    assert.are.equal(4, c.slot_packets)
    assert.are.equal(3000, c.slot_bytes)
    c = ok("slot 5ms")
    assert.are.equal(5000, c.slot_min_us)
    assert.are.equal(5000, c.slot_max_us)
    c = ok("slot distribution pareto 10ms 2ms packets 8")
    assert.are.equal(C.TL_DIST_PARETO, c.slot_dist)
    assert.are.equal(10000, c.slot_min_us)
    assert.are.equal(2000, c.slot_jitter_us)
    assert.are.equal(8, c.slot_packets)
  end)

  it("takes commas for spaces, and a whole line", function()
    local c = ok("delay,20ms,5ms loss state,1%,30% slot 1ms,2ms")
    assert.are.equal(5000, c.jitter_us)
    close(0.3, c.loss_p[1])
    assert.are.equal(2000, c.slot_max_us)
  end)

  it("refuses bad words, names them, and leaves the config alone", function()
    for _, case in ipairs({
      { "loss 150%", "150%%" }, { "loss state", "missing" }, { "delay 5parsecs", "5parsecs" },
      { "delay 10ms 2ms distribution cauchy", "cauchy" }, { "rate 10mbitz", "10mbitz" },
      { "slot 20ms 10ms", "MAX below MIN" }, { "slot 1ms packets 0", "'0'" }, { "ecn", "ecn" },
      { "", "no netem words" }, { "loss 1% frobnicate", "frobnicate" },
    }) do
      local rc, cfg, err = parse(case[1], { loss = 0.5, delay_us = 7 })
      assert.are.equal(-1, rc, case[1])
      assert.matches(case[2], err, 1, false, case[1])
      close(0.5, cfg.loss)
      assert.are.equal(7, cfg.delay_us)
    end
    assert.are.equal(-1, C.tl_impair_parse(nil, "loss 1%", nil, 0))
    assert.are.equal(-1, (parse(string.rep("loss 1% ", 100))))
  end)
end)
