-- Real TCP through each fault primitive, installed as a segment hook on one
-- stack of a sim (virtual time, fixed seeds): the fault really acts (its
-- counter moves) and the transfer is still byte-exact both ways.
local fault = require "tcplua.fault"

local pattern_bytes = require("helpers.tcpsim").bytes

-- a echoes back what b sends; b's hooks (policy) see every segment both
-- ways. Returns what came back, the client's stats and the error log.
local function echo_through(policy, opts)
  opts = opts or {}
  local log = {}
  local sim = require("tcplua.sim").new { seed = opts.seed or 3, latency_ms = 2,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1" }
  local b = sim:stack { addr = "10.0.0.2", mtu = opts.mtu }
  fault.seed(opts.seed or 3)
  fault.reset_stats()
  b.on_segment(policy())
  local data = pattern_bytes(opts.size or 200000, opts.seed)
  a.listen(7, function(c)
    while true do
      local d, err = c:receiveany(65536)
      if not d then break end
      c:send(d)
    end
  end)
  local back
  b.spawn(function()
    local c = assert(b.connect("10.0.0.1", 7))
    b.spawn(function() back = c:receive(#data) end)
    assert(c:send(data))
    while back == nil and c.s do b.sleep(50) end
    c:close()
  end)
  sim:run_until(function() return back ~= nil end, opts.max_ms or 600000)
  return data, back, b.stats(), log
end

local cases = {
  { "loss(0.05)", function() return fault.loss(0.05) end, "loss" },
  { "burst_loss(0.01, 0.3)", function() return fault.burst_loss(0.01, 0.3) end, "burst_loss" },
  { "delay(20, 5, normal)", function() return fault.delay(20, 5, "normal") end, "delay" },
  { "reorder(0.05, 10)", function() return fault.reorder(0.05, 10) end, "reorder" },
  { "duplicate(0.05)", function() return fault.duplicate(0.05) end, "duplicate" },
  { "corrupt(0.02)", function() return fault.corrupt(0.02) end, "corrupt" },
  { "rate(2e6)", function() return fault.rate(2e6) end, "rate" },
  { "slice(300)", function() return fault.slice(300) end, "slice" },
  { "drop_first(3)", function() return fault.drop_first(3) end, "drop_first" },
  { "size_limit(700) with a 700-byte MTU", function() return fault.size_limit(700) end, "size_limit", { mtu = 700 } },
  { "loss(0.03, 0.5) (correlated)", function() return fault.loss(0.03, 0.5) end, "loss" },
  { "loss_state(0.02, 0.3, 0.2, 0.4, 0.01)", function() return fault.loss_state(0.02, 0.3, 0.2, 0.4, 0.01) end,
    "loss_state" },
  { "delay(20, 5, paretonormal, corr 0.5)", function() return fault.delay(20, 5, "paretonormal", { corr = 0.5 }) end,
    "delay" },
  { "slot(5, 15, packets 8)", function() return fault.slot(5, 15, { packets = 8 }) end, "slot" },
  { "rate(2e6, overhead 40, cells 48+5)", function()
    return fault.rate(2e6, { overhead = 40, cell = 48, cell_overhead = 5 })
  end, "rate" },
  { "netem('delay 10ms 2ms 25% loss gemodel 1% 30% slot 2ms packets 4')", function()
    return fault.netem("delay 10ms 2ms 25% loss gemodel 1% 30% slot 2ms packets 4")
  end, "burst_loss" },
  { "compose(inbound loss, outbound delay)", function()
    return fault.compose(fault.inbound(fault.loss(0.03)), fault.outbound(fault.delay(5, 2)))
  end, "loss" },
}

describe("TCP through each fault primitive as a segment hook", function()
  for _, case in ipairs(cases) do
    local name, make, counter, opts = case[1], case[2], case[3], case[4]
    it(name .. " delivers byte-exact", function()
      local data, back, stats, log = echo_through(make, opts)
      assert.are.equal(0, #log, table.concat(log, "\n"))
      assert.is_not_nil(back, name .. ": nothing came back")
      assert.are.equal(#data, #back)
      assert.is_true(data == back, name .. ": bytes differ")
      if counter == "size_limit" then
        -- Every segment fitted: the limit acted on nothing, and nothing
        -- was lost for it.
        assert.are.equal(0, stats.fault_size_limit or 0)
      else
        assert.is_true((stats["fault_" .. counter] or 0) > 0, name .. ": the fault never acted")
      end
      assert.are.equal(0, stats.hook_errors)
    end)
  end

  it("the same seed gives the same faults, another seed other faults", function()
    local function faults(seed)
      local _, back, stats = echo_through(function() return fault.loss(0.05) end, { seed = seed, size = 100000 })
      assert.is_not_nil(back)
      return stats.fault_loss
    end
    local a, b = faults(21), faults(21)
    assert.are.equal(a, b)
    local differs = false
    for seed = 22, 26 do
      if faults(seed) ~= a then differs = true end
    end
    assert.is_true(differs)
  end)

  it("size_limit drops what is larger, and TCP at a larger MSS stalls", function()
    local data, back, stats = echo_through(function() return fault.size_limit(700) end,
      { size = 20000, max_ms = 20000 })
    assert.is_nil(back)
    assert.is_true(stats.fault_size_limit > 0)
    assert.is_true(#data > 0)
  end)
end)
