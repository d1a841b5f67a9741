-- Zero-copy sends from Lua (lua/tcplua/lend.lua over tl_send_ref): large
-- strings are lent to the stack, not copied, kept alive until the peer
-- acknowledges them, and copied in at close.
local core = require "tcplua.core"
local C = core.C
local lend = require "tcplua.lend"
local luasim = require "helpers.luasim"
local lt = require "helpers.lendtest"
local setup, pattern, churn, send_now = lt.setup, lt.pattern, lt.churn, lt.send_now
local counter, anchors, ring_bytes, released = lt.counter, lt.anchors, lt.ring_bytes, lt.released
local serve, client, fetch = luasim.serve, luasim.client, luasim.fetch

describe("lent sends (tcplua.lend)", function()
  it("lends a large string instead of copying it, and lets go of it once acknowledged", function()
    local sim, a, b, log = setup(11)
    local data = pattern(2000000, 1)
    local conn_info, peak_ring, peak_lent = nil, 0, 0
    serve(a, function(conn)
      assert(conn:send(data))
      conn_info = conn:info()
      assert(conn:receive(1)) -- the client's "done"
    end)
    local got
    client(b, function(c)
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
    released(sim, a, 5000)
  end)

  it("copies small sends as before (nothing lent)", function()
    local sim, a, b, log = setup(11)
    local lent = 0
    assert(a.listen(7, function(conn)
      for _ = 1, 50 do assert(conn:send(pattern(lend.MIN - 1, 2))) end
      lent = math.max(lent, lend.count(a._runtime))
      conn:close()
    end))
    local got = fetch(sim, b, { cue = false, limit = 20000 })
    assert.are.same({}, log)
    assert.are.equal(50 * (lend.MIN - 1), #got)
    assert.are.equal(0, lent)
  end)

  it("delivers lent bytes byte-exact through loss, reordering and duplication", function()
    local sim, a, b, log = setup(11, { loss = 0.05, reorder = 0.05, duplicate = 0.02 })
    local pieces = {}
    for i = 1, 40 do pieces[i] = pattern(1000 + (i * 3571) % 60000, i) end
    local want = table.concat(pieces)
    serve(a, function(conn)
      for i = 1, #pieces do assert(conn:send(pieces[i])) end
      conn:close()
    end)
    local got = fetch(sim, b, { limit = 120000 })
    assert.are.same({}, log)
    assert.are.equal(#want, #got)
    assert.is_true(got == want, "the stream differs from the strings sent")
    -- the close lingers until the client's FIN, then lets go
    released(sim, a, 10000)
  end)

  it("keeps the bytes of a string closed before they were acknowledged, though the string is collected", function()
    local sim, a, b, log = setup(11)
    local n = 1500000
    local closed_lent, after_close
    serve(a, function(conn)
      assert.are.equal("", conn:receive("*a")) -- the client's FIN: the close is not deferred
      assert(conn:send(pattern(n, 3))) -- the only reference is the anchor
      closed_lent = lend.count(a._runtime)
      conn:close()
      after_close = lend.count(a._runtime)
    end)
    local got = fetch(sim, b, { shutdown = true, each = function()
      -- a string the stack still read would be freed and overwritten now
      if closed_lent then churn() end
    end })
    assert.are.same({}, log)
    assert.are.equal(1, closed_lent)
    assert.are.equal(0, after_close)
    assert.are.equal(n, #got)
    assert.is_true(got == pattern(n, 3), "the stream changed after the close")
  end)

  it("event-style servers lend what they send, and what they queue in Lua", function()
    local sim, a, b, log = setup(11)
    local block = pattern(300000, 4)
    assert(a.listen(7, {
      on_data = function(conn) conn:send(block); conn:send(block); conn:close() end,
    }))
    local peak = 0
    local got = fetch(sim, b, { each = function() peak = math.max(peak, lend.count(a._runtime)) end })
    assert.are.same({}, log)
    assert.is_true(got == block .. block)
    assert.is_true(peak >= 1)
    released(sim, a, 10000)
  end)

  it("abort lets go of everything lent at once", function()
    local sim, a, b, log = setup(11)
    local before, after
    serve(a, function(conn)
      conn:send(pattern(500000, 5))
      before = lend.count(a._runtime)
      conn:abort()
      after = lend.count(a._runtime)
    end)
    fetch(sim, b, { limit = 20000 })
    assert.are.same({}, log)
    assert.are.equal(1, before)
    assert.are.equal(0, after)
  end)
end)

-- Review of lent sends: every way a connection ends lets go of its
-- anchors, and no path has the stack read a string after that. A string
-- the stack read after its anchor went would be garbage: each test drops
-- its own references, collects and allocates over the freed memory
-- (churn), so a stale read shows as wrong bytes.
describe("lent sends, reviewed", function()
  it("retransmits lent bytes (RTO and SACK) whose only reference is the anchor, through GC churn", function()
    local sim, a, b, log = setup(23, { loss = 0.08, reorder = 0.03 })
    local n = 0
    serve(a, function(conn)
      for i = 1, 12 do
        -- built here and dropped: only lend's anchor keeps it alive
        assert(conn:send(pattern(20000 + i * 9973, i)))
        n = n + 20000 + i * 9973
      end
      conn:close()
    end)
    local got = fetch(sim, b, { each = churn, limit = 120000 })
    assert.are.same({}, log)
    local want = {}
    for i = 1, 12 do want[i] = pattern(20000 + i * 9973, i) end
    want = table.concat(want)
    assert.are.equal(#want, #got)
    assert.is_true(got == want, "the stream differs from the strings sent")
    released(sim, a, 10000)
    assert.are.equal(0, select(2, anchors(a._runtime)))
  end)

  it("retransmits from the stack's own copy after a close let go of the strings, through loss and churn", function()
    local sim, a, b, log = setup(31, { loss = 0.08, reorder = 0.03 })
    local n, closed_with, retrans_at_close = 1200000, nil, nil
    serve(a, function(conn)
      assert.are.equal("", conn:receive("*a")) -- the client's FIN: close is immediate
      assert(conn:send(pattern(n, 17)))
      closed_with = lend.count(a._runtime)
      retrans_at_close = counter(a._runtime, "tcp_retrans_segs")
      conn:close()
    end)
    local got = fetch(sim, b, { shutdown = true, each = churn, limit = 120000 })
    assert.are.same({}, log)
    assert.are.equal(1, closed_with)
    assert.is_true(counter(a._runtime, "tcp_retrans_segs") > retrans_at_close, "nothing resent after the close")
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
    assert.are.equal(n, #got)
    assert.is_true(got == pattern(n, 17), "the stream changed after the close")
  end)

  it("counts the piece list while lent bytes are held and nothing once the connection idles", function()
    local sim, a, b, log = setup(23)
    local n, peak_ext, done = 800000, 0, false
    serve(a, function(conn)
      assert(conn:send(pattern(n, 21)))
      assert(conn:receive(1)) -- stays open, idle, until the client says
      conn:close()
    end)
    local got, finish
    client(b, function(c)
      got = c:receive(n)
      while not finish do b.sleep(100) end
      c:send("d")
      c:close()
      done = true
    end)
    assert.is_true(sim:run_until(function()
      if lend.count(a._runtime) > 0 then peak_ext = math.max(peak_ext, ring_bytes(a)) end
      return got ~= nil
    end, 60000))
    assert.is_true(got == pattern(n, 21))
    assert.is_true(peak_ext > 0)
    -- idle long enough for any kept storage to be released (tcp_buf.c)
    sim:run_until(function() return false end, 10000)
    assert.are.equal(0, lend.count(a._runtime))
    assert.are.equal(0, ring_bytes(a))
    finish = true
    assert.is_true(sim:run_until(function() return done end, 5000))
    assert.are.same({}, log)
  end)

  it("a handler that raises after lending aborts its connection and lets go of the anchors", function()
    local sim, a, b, log = setup(23)
    local lent_before
    serve(a, function(conn)
      send_now(conn, pattern(600000, 2))
      lent_before = lend.count(a._runtime)
      error("boom")
    end)
    fetch(sim, b, { each = churn, limit = 30000 })
    assert.are.equal(1, lent_before)
    assert.are.equal(1, #log) -- the handler's error
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
  end)

  -- A client that reads a little of a large send, then resets.
  local function resetting_client(b)
    client(b, function(c)
      assert(c:receive(100000))
      c:abort()
    end)
  end

  it("a peer's reset frees the queued lent bytes; the close then lets go of the anchors", function()
    local sim, a, b, log = setup(23)
    local err, after
    serve(a, function(conn)
      local ok, e = conn:send(pattern(3000000, 3))
      err = e
      assert.is_nil(ok)
      conn:close()
      after = { anchors(a._runtime) }
    end)
    resetting_client(b)
    assert.is_true(sim:run_until(function() churn(); return after ~= nil end, 30000))
    assert.are.same({}, log)
    assert.are.equal("reset", err)
    assert.are.same({ 0, 0 }, after)
  end)

  it("a reset connection lets go of its anchors though the script has not closed it yet", function()
    local sim, a, b, log = setup(23)
    local err, held_after_reset
    serve(a, function(conn)
      err = select(2, conn:send(pattern(3000000, 16)))
      -- the script goes on with other work and closes much later: the
      -- stack dropped the lent bytes with the reset, so Lua need not hold
      -- the string all that time
      a.sleep(30000)
      held_after_reset = lend.count(a._runtime)
      conn:close()
    end)
    resetting_client(b)
    assert.is_true(sim:run_until(function() return err ~= nil end, 30000))
    assert.are.equal("reset", err)
    released(sim, a, 1000, "the anchor outlived the connection")
    assert.is_true(sim:run_until(function() return held_after_reset ~= nil end, 60000))
    assert.are.same({}, log)
    assert.are.same({ 0, 0 }, { anchors(a._runtime) })
  end)

  it("runtime shutdown lets go of every anchor: coroutine, event and lingering connections", function()
    local sim, a, b, log = setup(23)
    local big = 900000
    local lingering
    serve(a, function(conn)
      send_now(conn, pattern(big, 4))
      conn:receive(1) -- waits: the client never sends more
    end, 7)
    assert(a.listen(8, { on_data = function(conn) conn:send(pattern(big, 5)) end }))
    serve(a, function(conn)
      send_now(conn, pattern(big, 6))
      conn:close() -- lingers: the client sends no FIN
      lingering = true
    end, 9)
    local clients = {}
    for port = 7, 9 do
      client(b, function(c)
        clients[port] = c
        b.sleep(1e6) -- reads nothing: the server's send buffer stays full
      end, { port = port })
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
    local sim, a, b, log = setup(23)
    local srv
    srv = assert(a.listen(7, {
      on_data = function(conn)
        conn:send(pattern(700000, 7))
        conn:send(pattern(300000, 8))
        srv:close()
        conn:close()
      end,
    }))
    local got = fetch(sim, b, { each = churn })
    assert.are.same({}, log)
    assert.is_true(got == pattern(700000, 7) .. pattern(300000, 8), "the stream differs")
    released(sim, a, 10000)
    assert.are.equal(0, select(2, anchors(a._runtime)))
  end)

  it("connection after connection (socket memory reused) neither keeps nor mixes anchors", function()
    local sim, a, b, log = setup(5)
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
    released(sim, a, 10000)
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
    local sim, a, b, log = setup(23)
    local shrink_ok, grow_ok, shrink_low
    serve(a, function(conn)
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
    end)
    local got = fetch(sim, b, { each = churn })
    assert.are.same({}, log)
    assert.is_nil(shrink_low)
    assert.is_true(grow_ok)
    assert.is_true(shrink_ok)
    assert.is_true(got == pattern(400000, 9) .. pattern(3000, 15) .. pattern(200000, 10), "the stream differs")
  end)

  it("urgent sends between lent ones keep their place, and the urgent mark", function()
    local sim, a, b, log = setup(23)
    local up, una
    serve(a, function(conn)
      assert(conn:send(pattern(100000, 11)))
      assert(conn:send("URGENT!", { urgent = true }))
      assert(conn:send(pattern(100000, 12)))
      local i = conn:info()
      up, una = i.snd_up, i.snd_una
      conn:close()
    end)
    local got = fetch(sim, b, { each = churn })
    assert.are.same({}, log)
    assert.is_true(got == pattern(100000, 11) .. "URGENT!" .. pattern(100000, 12), "the stream differs")
    -- nothing was acknowledged yet: SND.UP sat just past the urgent bytes,
    -- counted over the lent bytes before them
    assert.are.equal(100000 + 7, (up - una) % 2 ^ 32)
  end)
end)

describe("the writable threshold, reviewed", function()
  it("a writer blocked on a full buffer whose size another coroutine changes still finishes", function()
    local sim, a, b, log = setup(23)
    local done, n = false, 2000000
    serve(a, function(conn)
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
    end)
    local got = fetch(sim, b)
    assert.are.same({}, log)
    assert.is_true(done)
    assert.is_true(got == pattern(n, 13))
  end)

  -- Both "growing the send buffer" tests: the client reads nothing for
  -- 20 s, then gets the whole stream (want); the server's writer went on
  -- (at t.woke) within 1 s of the buffer growing (at t.grown).
  local function check_woken(sim, b, log, t, want, what)
    local got = fetch(sim, b, { idle = 20000, limit = 120000 })
    assert.are.same({}, log)
    assert.is_truthy(t.grown and t.woke)
    assert.is_true(t.woke - t.grown < 1000, ("%s %d ms after the buffer grew"):format(what, t.woke - t.grown))
    assert.is_true(got == want)
  end

  it("growing the send buffer wakes a writer blocked on it, though no ACK comes (zero window)", function()
    local sim, a, b, log = setup(23)
    local n, t = 600000, {}
    serve(a, function(conn)
      conn:setoption("sndbuf", 50000)
      a.spawn(function()
        -- the peer's window is closed by now and our buffer full: only
        -- window probes go out, and their ACKs acknowledge nothing
        a.sleep(3000)
        t.grown = a.now()
        assert(conn:setoption("sndbuf", 1000000))
      end)
      assert(conn:send(pattern(n, 18)))
      t.woke = a.now()
      conn:close()
    end)
    check_woken(sim, b, log, t, pattern(n, 18), "the writer went on")
  end)

  it("event-style: growing the send buffer drains the Lua queue (on_drain) without an ACK", function()
    local sim, a, b, log = setup(23)
    local n, t = 600000, {}
    assert(a.listen(7, {
      on_data = function(conn)
        conn:setoption("sndbuf", 50000)
        conn:send(pattern(n, 19))
        a.timer(3000, function()
          t.grown = a.now()
          assert(conn:setoption("sndbuf", 1000000))
        end)
      end,
      on_drain = function(conn)
        t.woke = t.woke or a.now()
        conn:close()
      end,
    }))
    check_woken(sim, b, log, t, pattern(n, 19), "on_drain came")
  end)

  it("a writer blocked by the peer's zero window resumes once the peer reads", function()
    local sim, a, b, log = setup(23)
    local n, done = 1500000, false
    serve(a, function(conn)
      conn:setoption("sndbuf", 100000)
      assert(conn:send(pattern(n, 14)))
      done = true
      conn:close()
    end)
    local probes = 0
    local got = fetch(sim, b, { idle = 2000, limit = 120000, -- the window closes; the sender probes
      each = function() probes = counter(a._runtime, "tcp_persist_probe") end })
    assert.are.same({}, log)
    assert.is_true(done)
    assert.is_true(probes > 0, "the window never closed")
    assert.is_true(got == pattern(n, 14))
  end)

  it("event-style: on_drain comes for every queue that filled, and the stream is whole", function()
    local sim, a, b, log = setup(23)
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
    local got = fetch(sim, b, { each = churn })
    assert.are.same({}, log)
    local want = {}
    for i = 1, rounds do want[i] = pattern(150000, 20 + i) end
    assert.is_true(got == table.concat(want), "the stream differs")
    assert.is_true(drains >= 1)
    released(sim, a, 10000)
  end)
end)
