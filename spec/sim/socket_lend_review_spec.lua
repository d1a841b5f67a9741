-- Review of lent sends (lua/tcplua/lend.lua over tl_send_ref): every way a
-- connection ends lets go of its anchors, and no path has the stack read a
-- string after that. A string the stack read after its anchor went would
-- be garbage: each test drops its own references, collects and allocates
-- over the freed memory (churn), so a stale read shows as wrong bytes.
local core = require "tcplua.core"
local C = core.C
local lend = require "tcplua.lend"

local function setup(impair, seed)
  local log = {}
  local sim = require("tcplua.sim").new { seed = seed or 23, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1" }
  local b = sim:stack { addr = "10.0.0.2" }
  if impair then sim:impair(nil, impair) end
  return sim, a, b, log
end

-- Bytes that change with position, so a misplaced or stale span shows.
local function pattern(n, seed)
  local t = {}
  for i = 1, math.ceil(n / 8) do t[i] = string.format("%07x|", (i * 7919 + seed) % 0xfffffff) end
  return table.concat(t):sub(1, n)
end

-- Frees unreferenced strings and allocates over them.
local function churn()
  collectgarbage("collect")
  local junk = {}
  for i = 1, 24 do junk[i] = string.rep(string.char(65 + i), 8192 + 97 * i) end
  return #junk
end

-- conn:send that queues what fits and does not wait for the rest.
local function send_now(conn, data)
  conn:settimeouts(nil, 0, nil)
  local ok, err, sent = conn:send(data)
  conn:settimeouts(nil, nil, nil)
  return ok, err, sent
end

local function counter(rt, name)
  for i = 0, C.tl_stats_count() - 1 do
    if core.ffi.string(C.tl_stats_name(i)) == name then return tonumber(C.tl_stats_get(rt.st, i)) end
  end
  error("no counter " .. name)
end

-- Anchors and anchored sockets left in runtime rt.
local function anchors(rt) return lend.count(rt), rt.lent_n or 0 end

describe("lent sends, reviewed", function()
  it("retransmits lent bytes (RTO and SACK) whose only reference is the anchor, through GC churn", function()
    local sim, a, b, log = setup { loss = 0.08, reorder = 0.03 }
    local n = 0
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      for i = 1, 12 do
        -- built here and dropped: only lend's anchor keeps it alive
        assert(conn:send(pattern(20000 + i * 9973, i)))
        n = n + 20000 + i * 9973
      end
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 120000))
    assert.are.same({}, log)
    local want = {}
    for i = 1, 12 do want[i] = pattern(20000 + i * 9973, i) end
    want = table.concat(want)
    assert.are.equal(#want, #got)
    assert.is_true(got == want, "the stream differs from the strings sent")
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
    assert.are.equal(0, select(2, anchors(a._runtime)))
  end)

  it("retransmits from the stack's own copy after a close let go of the strings, through loss and churn", function()
    local sim, a, b, log = setup({ loss = 0.08, reorder = 0.03 }, 31)
    local n, closed_with, retrans_at_close = 1200000, nil, nil
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      assert.are.equal("", conn:receive("*a")) -- the client's FIN: close is immediate
      assert(conn:send(pattern(n, 17)))
      closed_with = lend.count(a._runtime)
      retrans_at_close = counter(a._runtime, "tcp_retrans_segs")
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      c:shutdown("send")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 120000))
    assert.are.same({}, log)
    assert.are.equal(1, closed_with)
    assert.is_true(counter(a._runtime, "tcp_retrans_segs") > retrans_at_close, "nothing resent after the close")
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
    assert.are.equal(n, #got)
    assert.is_true(got == pattern(n, 17), "the stream changed after the close")
  end)

  it("counts the piece list while lent bytes are held and nothing once the connection idles", function()
    local sim, a, b, log = setup()
    local n, peak_ext, done = 800000, 0, false
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      assert(conn:send(pattern(n, 21)))
      assert(conn:receive(1)) -- stays open, idle, until the client says
      conn:close()
    end))
    local got, finish
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive(n)
      while not finish do b.sleep(100) end
      c:send("d")
      c:close()
      done = true
    end)
    local st = a._runtime.st
    assert.is_true(sim:run_until(function()
      if lend.count(a._runtime) > 0 then peak_ext = math.max(peak_ext, tonumber(C.tl_tcp_ring_bytes(st))) end
      return got ~= nil
    end, 60000))
    assert.is_true(got == pattern(n, 21))
    assert.is_true(peak_ext > 0)
    -- idle long enough for any kept storage to be released (tcp_buf.c)
    sim:run_until(function() return false end, 10000)
    assert.are.equal(0, lend.count(a._runtime))
    assert.are.equal(0, tonumber(C.tl_tcp_ring_bytes(st)))
    finish = true
    assert.is_true(sim:run_until(function() return done end, 5000))
    assert.are.same({}, log)
  end)

  it("a handler that raises after lending aborts its connection and lets go of the anchors", function()
    local sim, a, b, log = setup()
    local lent_before
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      send_now(conn, pattern(600000, 2))
      lent_before = lend.count(a._runtime)
      error("boom")
    end))
    local res
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      res = { c:receive("*a") }
    end)
    assert.is_true(sim:run_until(function() churn(); return res ~= nil end, 30000))
    assert.are.equal(1, lent_before)
    assert.are.equal(1, #log) -- the handler's error
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
  end)

  it("a peer's reset frees the queued lent bytes; the close then lets go of the anchors", function()
    local sim, a, b, log = setup()
    local err, after
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      local ok, e = conn:send(pattern(3000000, 3))
      err = e
      assert.is_nil(ok)
      conn:close()
      after = { anchors(a._runtime) }
    end))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      assert(c:receive(100000))
      c:abort()
    end)
    assert.is_true(sim:run_until(function() churn(); return after ~= nil end, 30000))
    assert.are.same({}, log)
    assert.are.equal("reset", err)
    assert.are.same({ 0, 0 }, after)
  end)

  it("a reset connection lets go of its anchors though the script has not closed it yet", function()
    local sim, a, b, log = setup()
    local err, held_after_reset
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      err = select(2, conn:send(pattern(3000000, 16)))
      -- the script goes on with other work and closes much later: the
      -- stack dropped the lent bytes with the reset, so Lua need not hold
      -- the string all that time
      a.sleep(30000)
      held_after_reset = lend.count(a._runtime)
      conn:close()
    end))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      assert(c:receive(100000))
      c:abort()
    end)
    assert.is_true(sim:run_until(function() return err ~= nil end, 30000))
    assert.are.equal("reset", err)
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 1000),
      "the anchor outlived the connection")
    assert.is_true(sim:run_until(function() return held_after_reset ~= nil end, 60000))
    assert.are.same({}, log)
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
  end)

  it("runtime shutdown lets go of every anchor: coroutine, event and lingering connections", function()
    local sim, a, b, log = setup()
    local big = 900000
    local lingering
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      send_now(conn, pattern(big, 4))
      conn:receive(1) -- waits: the client never sends more
    end))
    assert(a.listen(8, { on_data = function(conn) conn:send(pattern(big, 5)) end }))
    assert(a.listen(9, function(conn)
      assert(conn:receive(1))
      send_now(conn, pattern(big, 6))
      conn:close() -- lingers: the client sends no FIN
      lingering = true
    end))
    local clients = {}
    for port = 7, 9 do
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", port))
        c:send("x")
        clients[port] = c
        b.sleep(1e6) -- reads nothing: the server's send buffer stays full
      end)
    end
    assert.is_true(sim:run_until(function()
      return lingering and clients[7] and clients[8] and clients[9] and lend.count(a._runtime) >= 3
    end, 20000))
    a._runtime:shutdown()
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
    -- every connection was reset, none is left sending from the strings
    assert.is_true(sim:run_until(function()
      churn()
      return tonumber(C.tl_tcp_conn_count(a._runtime.st)) == 0
    end, 5000))
    assert.are.same({}, log)
  end)

  it("closing an event server leaves its live connections sending lent bytes byte-exact", function()
    local sim, a, b, log = setup()
    local srv
    srv = assert(a.listen(7, {
      on_data = function(conn)
        conn:send(pattern(700000, 7))
        conn:send(pattern(300000, 8))
        srv:close()
        conn:close()
      end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 60000))
    assert.are.same({}, log)
    assert.is_true(got == pattern(700000, 7) .. pattern(300000, 8), "the stream differs")
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
    assert.are.equal(0, select(2, anchors(a._runtime)))
  end)

  it("connection after connection (socket memory reused) neither keeps nor mixes anchors", function()
    local sim, a, b, log = setup(nil, 5)
    local served, addrs = 0, {}
    assert(a.listen(7, function(conn)
      addrs[tostring(core.ffi.cast("uintptr_t", conn.s))] = true
      local k = tonumber(assert(conn:receive("*l")))
      assert(conn:send(pattern(50000 + k * 1000, k)))
      -- the same (interned) string again: one anchor, extended
      assert(conn:send(pattern(50000 + k * 1000, k)))
      conn:receive("*a") -- the client resets: no TIME-WAIT, both sockets are freed
      conn:close()
      served = served + 1
    end))
    local bad = {}
    b.spawn(function()
      for k = 1, 25 do
        local c = assert(b.connect("10.0.0.1", 7))
        c:send(k .. "\n")
        local one = pattern(50000 + k * 1000, k)
        local got = c:receive(2 * #one)
        if got ~= one .. one then bad[#bad + 1] = k end
        c:abort()
        b.sleep(50) -- the server's socket is gone before the next SYN
      end
    end)
    assert.is_true(sim:run_until(function() churn(); return served == 25 end, 120000))
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
    assert.are.same({}, log)
    assert.are.same({}, bad)
    assert.are.equal(0, select(2, anchors(a._runtime)))
    local distinct = 0
    for _ in pairs(addrs) do distinct = distinct + 1 end
    -- (ASan quarantines freed memory: no reuse to see under SANITIZE=1)
    if not (os.getenv("LD_PRELOAD") or ""):find("asan") then
      assert.is_true(distinct < 25, "no socket memory was reused: the test proves nothing")
    end
  end)

  it("changing the send buffer while lent bytes are held: refused below them, byte-exact either way", function()
    local sim, a, b, log = setup()
    local shrink_ok, grow_ok, shrink_low
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      conn:setoption("sndbuf", 200000)
      -- queue what fits of the big string, without waiting
      local s1 = pattern(400000, 9)
      local ok, e, sent = send_now(conn, s1)
      assert.is_nil(ok)
      assert.are.equal("timeout", e)
      shrink_low = conn:setoption("sndbuf", 1000) -- below what is held
      grow_ok = conn:setoption("sndbuf", 600000)
      assert(conn:send(s1:sub(sent + 1)))
      -- shrink to just above what is held (lent and copied): accepted
      conn:send(pattern(3000, 15)) -- a copied piece among the lent ones
      shrink_ok = conn:setoption("sndbuf", conn:info().sndbuf_used + 1000)
      assert(conn:send(pattern(200000, 10)))
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 60000))
    assert.are.same({}, log)
    assert.is_nil(shrink_low)
    assert.is_true(grow_ok)
    assert.is_true(shrink_ok)
    assert.is_true(got == pattern(400000, 9) .. pattern(3000, 15) .. pattern(200000, 10), "the stream differs")
  end)

  it("urgent sends between lent ones keep their place, and the urgent mark", function()
    local sim, a, b, log = setup()
    local up, una
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      assert(conn:send(pattern(100000, 11)))
      assert(conn:send("URGENT!", { urgent = true }))
      assert(conn:send(pattern(100000, 12)))
      local i = conn:info()
      up, una = i.snd_up, i.snd_una
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 60000))
    assert.are.same({}, log)
    assert.is_true(got == pattern(100000, 11) .. "URGENT!" .. pattern(100000, 12), "the stream differs")
    -- nothing was acknowledged yet: SND.UP sat just past the urgent bytes,
    -- counted over the lent bytes before them
    assert.are.equal(100000 + 7, (up - una) % 2 ^ 32)
  end)
end)

describe("the writable threshold, reviewed", function()
  it("a writer blocked on a full buffer whose size another coroutine changes still finishes", function()
    local sim, a, b, log = setup()
    local done, n = false, 2000000
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      conn:setoption("sndbuf", 90000)
      a.spawn(function()
        a.sleep(5)
        conn:setoption("sndbuf", 2000000) -- grows under the blocked writer
        a.sleep(5)
        conn:setoption("sndbuf", 2000000)
      end)
      assert(conn:send(pattern(n, 13)))
      done = true
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 60000))
    assert.are.same({}, log)
    assert.is_true(done)
    assert.is_true(got == pattern(n, 13))
  end)

  it("growing the send buffer wakes a writer blocked on it, though no ACK comes (zero window)", function()
    local sim, a, b, log = setup()
    local n = 600000
    local grown_at, done_at
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      conn:setoption("sndbuf", 50000)
      a.spawn(function()
        -- the peer's window is closed by now and our buffer full: only
        -- window probes go out, and their ACKs acknowledge nothing
        a.sleep(3000)
        grown_at = a.now()
        assert(conn:setoption("sndbuf", 1000000))
      end)
      assert(conn:send(pattern(n, 18)))
      done_at = a.now()
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      b.sleep(20000) -- reads nothing for a long time
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 120000))
    assert.are.same({}, log)
    assert.is_truthy(grown_at and done_at)
    assert.is_true(done_at - grown_at < 1000, ("the writer went on %d ms after the buffer grew"):format(done_at - grown_at))
    assert.is_true(got == pattern(n, 18))
  end)

  it("event-style: growing the send buffer drains the Lua queue (on_drain) without an ACK", function()
    local sim, a, b, log = setup()
    local n = 600000
    local grown_at, drained_at
    assert(a.listen(7, {
      on_data = function(conn)
        conn:setoption("sndbuf", 50000)
        conn:send(pattern(n, 19))
        a.timer(3000, function()
          grown_at = a.now()
          assert(conn:setoption("sndbuf", 1000000))
        end)
      end,
      on_drain = function(conn)
        drained_at = drained_at or a.now()
        conn:close()
      end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      b.sleep(20000)
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 120000))
    assert.are.same({}, log)
    assert.is_truthy(grown_at and drained_at)
    assert.is_true(drained_at - grown_at < 1000, ("on_drain came %d ms after the buffer grew"):format(drained_at - grown_at))
    assert.is_true(got == pattern(n, 19))
  end)

  it("a writer blocked by the peer's zero window resumes once the peer reads", function()
    local sim, a, b, log = setup()
    local n, done = 1500000, false
    assert(a.listen(7, function(conn)
      assert(conn:receive(1))
      conn:setoption("sndbuf", 100000)
      assert(conn:send(pattern(n, 14)))
      done = true
      conn:close()
    end))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      b.sleep(2000) -- the window closes; the sender probes
      got = c:receive("*a")
    end)
    local probes = 0
    assert.is_true(sim:run_until(function()
      probes = counter(a._runtime, "tcp_persist_probe")
      return got ~= nil
    end, 120000))
    assert.are.same({}, log)
    assert.is_true(done)
    assert.is_true(probes > 0, "the window never closed")
    assert.is_true(got == pattern(n, 14))
  end)

  it("event-style: on_drain comes for every queue that filled, and the stream is whole", function()
    local sim, a, b, log = setup()
    local sent, drains, rounds = 0, 0, 8
    local function fill(conn)
      while sent < rounds and conn:pending() == 0 do
        sent = sent + 1
        conn:send(pattern(150000, 20 + sent))
      end
      if sent == rounds and conn:pending() == 0 then conn:close() end
    end
    assert(a.listen(7, {
      on_data = function(conn) fill(conn) end,
      on_drain = function(conn) drains = drains + 1; fill(conn) end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() churn(); return got ~= nil end, 60000))
    assert.are.same({}, log)
    local want = {}
    for i = 1, rounds do want[i] = pattern(150000, 20 + i) end
    assert.is_true(got == table.concat(want), "the stream differs")
    assert.is_true(drains >= 1)
    assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, 10000))
  end)
end)
