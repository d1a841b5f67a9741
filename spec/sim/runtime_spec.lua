-- The Lua runtime on its own: timers, coroutines, sleep, stop, error
-- reports. Driven by a manual clock (no stack needed), then through the sim.
local runtime = require "tcplua.runtime"
local core = require "tcplua.core"

-- A runtime whose error reports go into a list instead of stderr.
local function rt_with_log()
  local log = {}
  local rt = runtime.new { report = function(msg) log[#log + 1] = msg end }
  return rt, rt.api, log
end

-- Advances the manual clock from deadline to deadline up to until_us.
local function drive(rt, until_us)
  local d = rt:step(rt.now_us)
  while d >= 0 and d <= until_us do
    d = rt:step(d)
  end
  if rt.now_us < until_us then rt:step(until_us) end
end

describe("runtime timers", function()
  it("fire in deadline order, equal deadlines in arming order", function()
    local rt, t = rt_with_log()
    local order = {}
    t.timer(30, function() order[#order + 1] = "c" end)
    t.timer(10, function() order[#order + 1] = "a" end)
    t.timer(20, function() order[#order + 1] = "b1" end)
    t.timer(20, function() order[#order + 1] = "b2" end)
    t.timer(0, function() order[#order + 1] = "now" end)
    drive(rt, 100000)
    assert.are.same({ "now", "a", "b1", "b2", "c" }, order)
  end)

  it("report the next deadline and nothing when idle", function()
    local rt, t = rt_with_log()
    assert.are.equal(-1, (rt:step(0)))
    t.timer(5, function() end)
    assert.are.equal(5000, (rt:step(0)))
    assert.are.equal(-1, (rt:step(5000)))
    assert.is_true(rt:idle())
  end)

  it("fire at their time, not before", function()
    local rt, t = rt_with_log()
    local fired_at
    t.timer(10, function() fired_at = t.now() end)
    rt:step(9999)
    assert.is_nil(fired_at)
    rt:step(10000)
    assert.are.equal(10, fired_at)
  end)

  it("can be cancelled before they fire", function()
    local rt, t = rt_with_log()
    local fired = false
    local h = t.timer(10, function() fired = true end)
    assert.is_true(h:cancel())
    assert.is_false(h:cancel())
    drive(rt, 50000)
    assert.is_false(fired)
    assert.are.equal(0, rt.timers.n)
  end)

  it("every repeats on its period until cancelled", function()
    local rt, t = rt_with_log()
    local ticks = {}
    local h
    h = t.every(10, function(self)
      ticks[#ticks + 1] = t.now()
      if #ticks == 4 then self:cancel() end
    end)
    drive(rt, 200000)
    assert.are.same({ 10, 20, 30, 40 }, ticks)
    assert.is_false(h:cancel())
    assert.is_true(rt:idle())
  end)

  it("every keeps its phase when the loop wakes late", function()
    local rt, t = rt_with_log()
    local ticks = {}
    t.every(10, function() ticks[#ticks + 1] = t.now() end)
    rt:step(10500)   -- late by 0.5 ms
    rt:step(20000)
    assert.are.same({ 10.5, 20 }, ticks)
  end)

  it("rejects a non-positive period and a missing callback", function()
    local _, t = rt_with_log()
    assert.has_error(function() t.every(0, function() end) end, "every: period must be > 0 ms")
    assert.has_error(function() t.timer(1) end, "timer: callback must be a function")
  end)

  it("an error in a callback is reported with a traceback and the loop goes on", function()
    local rt, t, log = rt_with_log()
    local after = false
    t.timer(1, function() error("boom in timer") end)
    t.timer(2, function() after = true end)
    drive(rt, 10000)
    assert.is_true(after)
    assert.are.equal(1, #log)
    assert.matches("^tcplua: error in timer callback: .*boom in timer", log[1])
    assert.matches("stack traceback", log[1])
  end)

  it("keeps the heap consistent under many arms and cancels", function()
    local rt, t = rt_with_log()
    local seen, handles = {}, {}
    math.randomseed(7)
    for i = 1, 500 do
      handles[i] = t.timer(math.random(1, 1000), function() seen[#seen + 1] = i end)
    end
    local cancelled = {}
    for i = 1, 500, 3 do handles[i]:cancel(); cancelled[i] = true end
    local last = -1
    t.every(1, function() end):cancel()
    drive(rt, 2000000)
    local count = 0
    for _, i in ipairs(seen) do
      assert.is_nil(cancelled[i])
      assert.is_true(handles[i].deadline >= last)
      last = handles[i].deadline
      count = count + 1
    end
    assert.are.equal(500 - 167, count)
  end)
end)

describe("runtime coroutines", function()
  it("spawn runs the function at once with its arguments", function()
    local _, t = rt_with_log()
    local got
    t.spawn(function(a, b) got = a + b end, 2, 3)
    assert.are.equal(5, got)
  end)

  it("sleep suspends a coroutine for the given time", function()
    local rt, t = rt_with_log()
    local marks = {}
    t.spawn(function()
      marks[#marks + 1] = t.now()
      t.sleep(25)
      marks[#marks + 1] = t.now()
      t.sleep(0)
      marks[#marks + 1] = t.now()
    end)
    assert.is_false(rt:idle())
    drive(rt, 100000)
    assert.are.same({ 0, 25, 25 }, marks)
    assert.is_true(rt:idle())
  end)

  it("interleaves coroutines by their wake times", function()
    local rt, t = rt_with_log()
    local out = {}
    for _, spec in ipairs({ { "x", 30 }, { "y", 10 }, { "z", 20 } }) do
      t.spawn(function(name, ms)
        for i = 1, 2 do
          t.sleep(ms)
          out[#out + 1] = name .. i
        end
      end, spec[1], spec[2])
    end
    drive(rt, 1000000)
    assert.are.same({ "y1", "z1", "y2", "x1", "z2", "x2" }, out)
  end)

  it("sleep outside a coroutine raises a clear error", function()
    local _, t = rt_with_log()
    assert.has_error(function() t.sleep(10) end)
    local ok, err = pcall(t.sleep, 10)
    assert.is_false(ok)
    assert.matches("tcplua.sleep must be called inside a tcplua coroutine", err)
  end)

  it("sleep inside a timer callback reports the misuse and the loop goes on", function()
    local rt, t, log = rt_with_log()
    local later = false
    t.timer(1, function() t.sleep(5) end)
    t.timer(2, function() later = true end)
    drive(rt, 10000)
    assert.is_true(later)
    assert.matches("error in timer callback: .*must be called inside a tcplua coroutine", log[1])
  end)

  it("an error in a coroutine is reported with its traceback; others go on", function()
    local rt, t, log = rt_with_log()
    local done = false
    t.spawn(function() t.sleep(1); error("bad thing") end)
    t.spawn(function() t.sleep(5); done = true end)
    drive(rt, 100000)
    assert.is_true(done)
    assert.are.equal(1, #log)
    assert.matches("^tcplua: error in coroutine: .*bad thing", log[1])
    assert.matches("stack traceback", log[1])
    assert.is_true(rt:idle())
  end)

  it("a bare coroutine.yield acts as a zero sleep", function()
    local rt, t = rt_with_log()
    local n = 0
    t.spawn(function()
      for _ = 1, 3 do coroutine.yield(); n = n + 1 end
    end)
    assert.are.equal(0, n)
    rt:step(0)
    assert.are.equal(3, n)
    assert.is_true(rt:idle())
  end)

  it("stop sets the flag step returns", function()
    local rt, t = rt_with_log()
    t.timer(3, function() t.stop() end)
    local _, stop = rt:step(0)
    assert.is_false(stop)
    _, stop = rt:step(3000)
    assert.is_true(stop)
  end)

  it("on_error replaces the reporter", function()
    local rt, t = rt_with_log()
    local mine = {}
    t.on_error(function(m) mine[#mine + 1] = m end)
    t.spawn(function() error("x") end)
    rt:step(0)
    assert.are.equal(1, #mine)
  end)

  it("stack functions without a stack say what to do", function()
    local _, t = rt_with_log()
    local ok, err = pcall(t.listen, 7, function() end)
    assert.is_false(ok)
    assert.matches("no stack: run under the tcplua binary or use tcplua.sim", err)
  end)
end)

describe("the tcplua module without the binary", function()
  it("loads, and its stack functions raise a helpful error", function()
    local tcplua = require "tcplua"
    assert.is_table(tcplua)
    for _, name in ipairs({ "listen", "connect", "timer", "spawn", "stats", "config", "now" }) do
      local ok, err = pcall(tcplua[name])
      assert.is_false(ok)
      assert.matches("no stack: run under the tcplua binary or use tcplua.sim", err)
    end
  end)
end)

describe("tcplua.sim from the module", function()
  it("is reachable as require('tcplua').sim", function()
    assert.are.equal(require("tcplua.sim"), require("tcplua").sim)
  end)
end)

describe("the host contract", function()
  it("attach installs the default runtime and step reports deadline and stop", function()
    local ffi = core.ffi
    local st = ffi.gc(core.C.tl_stack_new(nil, nil, nil), core.C.tl_stack_free)
    local host = require "tcplua.host"
    local tcplua = require "tcplua"
    host.attach { stack = ffi.cast("void *", st), dev = "tcplua0", addr = "10.77.0.2",
      host = "10.77.0.1", prefix = 24, mtu = 1500, seed = 3, quiet = true, now_us = 1000000,
      args = { "x" }, script = "s.lua" }
    assert.are.equal(1000, tcplua.now())
    local cfg = tcplua.config()
    assert.are.equal("tcplua0", cfg.dev)
    assert.are.equal("10.77.0.2", cfg.addr)
    assert.are.same({ "x" }, cfg.args)
    assert.is_number(tcplua.stats().ip_in)
    tcplua.timer(10, function() tcplua.stop() end)
    local d, stop = host.step(1000000)
    assert.are.equal(1010000, d)
    assert.is_false(stop)
    d, stop = host.step(1010000)
    assert.are.equal(-1, d)
    assert.is_true(stop)
    host.shutdown()
    host.runtime = nil
    package.loaded["tcplua"] = nil
    local _ = st
  end)
end)

describe("runtime under the sim", function()
  it("timers and sleeps run on virtual time; stats and config come from the stack", function()
    local sim = require("tcplua.sim").new { seed = 1, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    local woke
    a.spawn(function() a.sleep(1500); woke = a.now() end)
    sim:run(10000)
    assert.are.equal(1500, woke)
    assert.are.equal("10.0.0.1", a.config().addr)
    assert.is_number(a.stats().ip_in)
  end)

  it("fractional-ms timers fire on the microsecond they round up to", function()
    local sim = require("tcplua.sim").new { seed = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    local at = {}
    a.timer(0.5, function() at[#at + 1] = a.now() end)
    a.spawn(function() a.sleep(0.0004); at[#at + 1] = a.now() end)
    assert.is_true(sim:run(100))
    assert.are.same({ 0.001, 0.5 }, at)
  end)

  it("stop() from a script ends sim:run early", function()
    local sim = require("tcplua.sim").new { seed = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    a.every(100, function() end)
    a.timer(250, function() a.stop() end)
    assert.is_true(sim:run(10000))
    assert.are.equal(250, sim:now())
  end)
end)
