-- The hierarchical timing wheel behind TCP timers (core/storage/timer_wheel.c),
-- driven through api_timer.h against a naive model: a table of deadlines.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local HOUR = 3600e6
local LEVELS = 11 -- TL_TW_LEVELS: one per 6 bits of a microsecond time

local function wheel(n, now)
  return ffi.gc(C.tl_timer_probe_new(n, now), C.tl_timer_probe_free)
end

local out = ffi.new("uint32_t[?]", 4096)

-- Expire everything due at now; returns the entry numbers in firing order.
local function expire(w, now)
  local fired = {}
  for _ = 1, 1000 do
    local k = C.tl_timer_probe_expire(w, now, out, 4096)
    for j = 0, k - 1 do fired[#fired + 1] = out[j] end
    if k < 4096 then return fired end
  end
  error("expiry did not finish")
end

local function next_wake(w) return tonumber(C.tl_timer_probe_next(w)) end

-- The model: deadline[i] for every scheduled entry.
local function model_min(deadline)
  local m
  for _, d in pairs(deadline) do
    if not m or d < m then m = d end
  end
  return m
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Advance the wheel and the model to now and compare: exactly the entries
-- due fire (none early, none left behind), each once.
local function check_advance(w, deadline, now, ctx)
  local fired = expire(w, now)
  local seen = {}
  for _, i in ipairs(fired) do
    assert(deadline[i], ctx .. ": entry " .. i .. " fired but was not scheduled")
    assert(deadline[i] <= now, ctx .. ": entry " .. i .. " fired early: " .. deadline[i] .. " > " .. now)
    assert(not seen[i], ctx .. ": entry " .. i .. " fired twice")
    seen[i] = true
    deadline[i] = nil
  end
  for i, d in pairs(deadline) do
    assert(d > now, ctx .. ": entry " .. i .. " due at " .. d .. " not fired at " .. now)
  end
  assert(count(deadline) == C.tl_timer_probe_count(w), ctx .. ": count")
  local m, nx = model_min(deadline), next_wake(w)
  if not m then
    assert(nx == -1, ctx .. ": empty wheel but next " .. nx)
  else
    assert(nx > now and nx <= m, ctx .. ": next " .. nx .. " outside (" .. now .. ", " .. m .. "]")
  end
  return #fired
end

-- A deadline relative to now, mixing the horizons TCP uses.
local function random_deadline(now)
  local r = math.random()
  if r < 0.10 then return now - math.random(0, 5e6) end -- already past
  if r < 0.15 then return now end
  if r < 0.45 then return now + math.random(1, 2000) end -- within a few level-0 windows
  if r < 0.70 then return now + math.random(1, 3e6) end -- RTO, delayed ACK
  if r < 0.80 then return now + 60e6 * math.random(1, 4) end -- TIME-WAIT
  return now + 2 * HOUR + math.random(0, HOUR) -- keepalive
end

local function random_step(now, deadline)
  local r = math.random()
  if r < 0.40 then return now + math.random(0, 100) end
  if r < 0.65 then return now + math.random(0, 50e3) end
  if r < 0.80 then return now + math.random(0, 5e6) end
  if r < 0.90 then return now + math.random(0, 3 * HOUR) end
  local m = model_min(deadline) -- land exactly on the earliest deadline
  return m and m > now and m or now
end

local function fuzz(seed, start, steps, n)
  math.randomseed(seed)
  local w = wheel(n, start)
  local deadline, now = {}, start
  for step = 1, steps do
    local ctx = string.format("seed %d step %d", seed, step)
    local op = math.random()
    local i = math.random(0, n - 1)
    if op < 0.45 then
      local d = random_deadline(now)
      C.tl_timer_probe_schedule(w, i, d)
      deadline[i] = d
    elseif op < 0.60 then
      C.tl_timer_probe_cancel(w, i)
      deadline[i] = nil
    else
      now = random_step(now, deadline)
      check_advance(w, deadline, now, ctx)
    end
    assert(C.tl_timer_probe_scheduled(w, i) == (deadline[i] and 1 or 0), ctx .. ": scheduled flag")
  end
  -- drain: a host waking at each returned time empties the wheel
  for _ = 1, 100000 do
    local nx = next_wake(w)
    if nx < 0 then break end
    now = math.max(now, nx)
    check_advance(w, deadline, now, "drain")
  end
  assert.are.equal(0, count(deadline))
end

describe("timing wheel", function()
  it("matches a naive model over random schedule, cancel and advance steps", function()
    fuzz(1, 0, 20000, 300)
    fuzz(2, 1.7e12, 20000, 300) -- a monotonic clock some weeks after boot
  end)

  it("stays exact across level wrap-around (times just below powers of 64)", function()
    for k, start in ipairs { 2 ^ 36 - 5e3, 2 ^ 42 - 1, 2 ^ 48 - 7 * HOUR, 2 ^ 52 - 3 } do
      fuzz(10 + k, start, 8000, 200)
    end
  end)

  it("fires every timer exactly at its deadline for a host that sleeps until next", function()
    math.randomseed(7)
    local start = 5e12 + 12345
    local w = wheel(1000, start)
    local deadline, want = {}, {}
    for i = 0, 999 do
      local d = start + math.floor(math.random() ^ 4 * 3 * HOUR) + 1
      C.tl_timer_probe_schedule(w, i, d)
      deadline[i], want[i] = d, d
    end
    local now, wakes = start, 0
    for _ = 1, 100000 do
      local nx = next_wake(w)
      if nx < 0 then break end
      assert.is_true(nx > now, "next never lies in the past: no busy loop")
      now, wakes = nx, wakes + 1
      for _, i in ipairs(expire(w, now)) do
        assert.are.equal(want[i], now, "entry " .. i .. " fired at its deadline")
        deadline[i] = nil
      end
    end
    assert.are.equal(0, count(deadline))
    -- an early wake only cascades: at most one per level per timer
    assert.is_true(wakes <= 1000 * LEVELS, "wakes: " .. wakes)
  end)

  it("wakes a host once for a lone timer, even hours away", function()
    for _, d in ipairs { 1, 63, 64, 700, 40e3, 200e3, 60e6, 2 * HOUR, 300 * HOUR } do
      local start = 1.7e12 + 4321
      local w = wheel(1, start)
      C.tl_timer_probe_schedule(w, 0, start + d)
      assert.are.equal(start + d, next_wake(w), "next for a timer " .. d .. " us away")
      assert.are.same({}, expire(w, start + d - 1))
      assert.are.same({ 0 }, expire(w, start + d))
    end
  end)

  it("fires a deadline in the past at the next expiry", function()
    local w = wheel(2, 1e9)
    C.tl_timer_probe_schedule(w, 0, 5)
    C.tl_timer_probe_schedule(w, 1, -1)
    assert.is_true(next_wake(w) <= 1e9)
    local fired = expire(w, 1e9)
    table.sort(fired)
    assert.are.same({ 0, 1 }, fired)
    assert.are.equal(-1, next_wake(w))
  end)

  it("moves a scheduled entry without a second copy", function()
    local w = wheel(1, 0)
    C.tl_timer_probe_schedule(w, 0, 2 * HOUR)
    C.tl_timer_probe_schedule(w, 0, 500)
    C.tl_timer_probe_schedule(w, 0, 700)
    assert.are.equal(1, C.tl_timer_probe_count(w))
    assert.is_true(next_wake(w) <= 700)
    assert.are.same({}, expire(w, 699))
    assert.are.equal(700, next_wake(w), "exact once the deadline is near")
    assert.are.same({ 0 }, expire(w, 700))
    assert.are.same({}, expire(w, 2 * HOUR))
  end)

  it("costs nothing per poll for 100,000 far timers, and amortised O(levels) each to expire", function()
    local n, start = 100000, 3e12
    local w = wheel(n, start)
    for i = 0, n - 1 do C.tl_timer_probe_schedule(w, i, start + 2 * HOUR + i * 36000) end -- 2 h .. 3 h
    local v0 = C.tl_timer_probe_visited(w)
    -- a poll every millisecond for a second: nothing due, nothing touched
    for t = 1, 1000 do assert.are.equal(0, C.tl_timer_probe_expire(w, start + t * 1000, out, 1)) end
    assert.are.equal(0, tonumber(C.tl_timer_probe_visited(w) - v0))
    -- rearming every keepalive (as each segment does) touches only that entry
    for i = 0, n - 1 do C.tl_timer_probe_schedule(w, i, start + 1e6 + 2 * HOUR + i * 36000) end
    assert.are.equal(0, C.tl_timer_probe_expire(w, start + 2e6, out, 1))
    assert.are.equal(0, tonumber(C.tl_timer_probe_visited(w) - v0))
    assert.are.equal(n, C.tl_timer_probe_count(w))
    -- expiring all of them, polling each second, costs a bounded number of
    -- touches per entry (one per level it cascades through, then expiry)
    local fired, now = 0, start + 2e6
    while fired < n and now < start + 4 * HOUR do
      now = now + 1e6
      fired = fired + #expire(w, now)
    end
    assert.are.equal(n, fired)
    local per_entry = tonumber(C.tl_timer_probe_visited(w) - v0) / n
    assert.is_true(per_entry <= LEVELS, "touches per entry: " .. per_entry)
  end)
end)
