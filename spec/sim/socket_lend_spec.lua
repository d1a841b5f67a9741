-- Zero-copy sends from Lua (lua/tcplua/lend.lua over tl_send_ref): large
-- strings are lent to the stack, not copied, kept alive until the peer
-- acknowledges them, and copied in at close.
local core = require "tcplua.core"
local C = core.C
local lend = require "tcplua.lend"

local function setup(impair)
  local log = {}
  local sim = require("tcplua.sim").new { seed = 11, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1" }
  local b = sim:stack { addr = "10.0.0.2" }
  if impair then sim:impair(nil, impair) end
  return sim, a, b, log
end

-- Bytes that change with position, so a misplaced span shows.
local function pattern(n, seed)
  local t = {}
  for i = 1, math.ceil(n / 8) do t[i] = string.format("%07x|", (i * 7919 + seed) % 0xfffffff) end
  return table.concat(t):sub(1, n)
end

local function ring_bytes(api) return tonumber(C.tl_tcp_ring_bytes(api._runtime.st)) end

describe("lent sends (tcplua.lend)", function()
  it("lends a large string instead of copying it, and lets go of it once acknowledged", function()
    local sim, a, b, log = setup()
    local data = pattern(2000000, 1)
    local conn_info, peak_ring, peak_lent = nil, 0, 0
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      assert(conn:send(data))
      conn_info = conn:info()
      assert(conn:receive(1)) -- the client's "done"
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = assert(c:receive(#data))
      c:send("d")
      c:close()
    end)
    assert.is_true(sim:run_until(function()
      peak_ring = math.max(peak_ring, ring_bytes(a))
      peak_lent = math.max(peak_lent, lend.count(a._runtime))
      return got ~= nil
    end, 60000))
    assert.are.same({}, log)
    assert.is_true(got == data, "the stream differs from the string sent")
    assert.are.equal(1, peak_lent)
    -- the send buffer held lent bytes, not copies: its storage stayed at
    -- the receive side's small allocation while a window's worth was queued
    assert.is_true(conn_info.sndbuf_used > 64 * 1024, "sndbuf_used " .. conn_info.sndbuf_used)
    assert.is_true(peak_ring <= 3 * C.TL_RING_MIN_ALLOC, "ring storage peaked at " .. peak_ring)
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 5000))
  end)

  it("copies small sends as before (nothing lent)", function()
    local sim, a, b, log = setup()
    local lent = 0
    assert(a.listen(7, function(conn)
      for _ = 1, 50 do assert(conn:send(pattern(lend.MIN - 1, 2))) end
      lent = math.max(lent, lend.count(a._runtime))
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 20000))
    assert.are.same({}, log)
    assert.are.equal(50 * (lend.MIN - 1), #got)
    assert.are.equal(0, lent)
  end)

  it("delivers lent bytes byte-exact through loss, reordering and duplication", function()
    local sim, a, b, log = setup { loss = 0.05, reorder = 0.05, duplicate = 0.02 }
    local pieces = {}
    for i = 1, 40 do pieces[i] = pattern(1000 + (i * 3571) % 60000, i) end
    local want = table.concat(pieces)
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      for i = 1, #pieces do assert(conn:send(pieces[i])) end
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 120000))
    assert.are.same({}, log)
    assert.are.equal(#want, #got)
    assert.is_true(got == want, "the stream differs from the strings sent")
    -- the close lingers until the client's FIN, then lets go
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
  end)

  it("keeps the bytes of a string closed before they were acknowledged, though the string is collected", function()
    local sim, a, b, log = setup()
    local n = 1500000
    local closed_lent, after_close
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      assert.are.equal("", conn:receive("*a")) -- the client's FIN: the close is not deferred
      assert(conn:send(pattern(n, 3))) -- the only reference is the anchor
      closed_lent = lend.count(a._runtime)
      conn:close()
      after_close = lend.count(a._runtime)
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      c:shutdown("send")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function()
      if closed_lent then
        collectgarbage("collect") -- a string the stack still read would be freed now
        -- allocate over freed memory
        local junk = {}
        for i = 1, 20 do junk[i] = string.rep(string.char(64 + i), 4096 + i) end
      end
      return got ~= nil
    end, 60000))
    assert.are.same({}, log)
    assert.are.equal(1, closed_lent)
    assert.are.equal(0, after_close)
    assert.are.equal(n, #got)
    assert.is_true(got == pattern(n, 3), "the stream changed after the close")
  end)

  it("event-style servers lend what they send, and what they queue in Lua", function()
    local sim, a, b, log = setup()
    local block = pattern(300000, 4)
    assert(a.listen(7, {
      on_data = function(conn) conn:send(block); conn:send(block); conn:close() end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    local peak = 0
    assert.is_true(sim:run_until(function()
      peak = math.max(peak, lend.count(a._runtime))
      return got ~= nil
    end, 60000))
    assert.are.same({}, log)
    assert.is_true(got == block .. block)
    assert.is_true(peak >= 1)
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
  end)

  it("abort lets go of everything lent at once", function()
    local sim, a, b, log = setup()
    local before, after
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      conn:send(pattern(500000, 5))
      before = lend.count(a._runtime)
      conn:abort()
      after = lend.count(a._runtime)
    end))
    local res
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      res = { c:receive("*a") }
    end)
    assert.is_true(sim:run_until(function() return res ~= nil end, 20000))
    assert.are.same({}, log)
    assert.are.equal(1, before)
    assert.are.equal(0, after)
  end)
end)
