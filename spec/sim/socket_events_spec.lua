-- Event-style servers (tcp.listen(port, { on_data = ... })) between two
-- stacks over the sim: echo, back-pressure, FIN/RST, callback errors, and
-- what an idle connection costs the Lua heap.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local pattern_bytes = require("helpers.tcpsim").bytes

-- Server a (10.0.0.1), client b (10.0.0.2); errors either reports go to log.
local function setup(opts)
  opts = opts or {}
  local log = {}
  local sim = require("tcplua.sim").new { seed = opts.seed or 1, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1", tcp_sndbuf = opts.sndbuf, tcp_rcvbuf = opts.rcvbuf,
    tcp_backlog = opts.backlog }
  local b = sim:stack { addr = "10.0.0.2", tcp_sndbuf = opts.sndbuf, tcp_rcvbuf = opts.rcvbuf }
  return sim, a, b, log
end

local echo = { on_data = function(conn, data) conn:send(data) end }

describe("event-style servers over the sim", function()
  it("echo 64 connections at once, each byte-exact", function()
    local sim, a, b, log = setup()
    assert(a.listen(7, echo))
    local want, got, n = {}, {}, 64
    for i = 1, n do
      want[i] = pattern_bytes(1000 + i * 997, i)
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", 7))
        b.spawn(function() c:send(want[i]); c:shutdown("send") end)
        got[i] = c:receive("*a")
      end)
    end
    assert.is_true(sim:run(60000))
    assert.are.same({}, log)
    for i = 1, n do assert.is_true(got[i] == want[i], "connection " .. i) end
  end)

  it("echo 1 MB byte-exact under loss, reordering and duplication", function()
    local sim, a, b, log = setup { seed = 7 }
    sim:impair(nil, { loss = 0.05, reorder = 0.05, duplicate = 0.01, delay_ms = 2, jitter_ms = 1 })
    assert(a.listen(7, echo))
    local data, got = pattern_bytes(1024 * 1024, 5), nil
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function() c:send(data); c:shutdown("send") end)
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 600000))
    assert.are.same({}, log)
    assert.is_true(got == data)
  end)

  it("back-pressure: a slow reader loses nothing, on_data pauses, Lua queues less than one on_data call sent", function()
    local sim, a, b, log = setup { sndbuf = 16384, rcvbuf = 16384 }
    local max_pending, calls_while_pending, drains, chunks = 0, 0, 0, {}
    assert(a.listen(7, {
      on_data = function(conn, data)
        chunks[#chunks + 1] = data
        if conn:pending() > 0 then calls_while_pending = calls_while_pending + 1 end
        -- Three copies: the send buffer cannot keep up with the input.
        for _ = 1, 3 do conn:send(data) end
        if conn:pending() > max_pending then max_pending = conn:pending() end
      end,
      on_drain = function() drains = drains + 1 end,
    }))
    local data = pattern_bytes(300000, 11)
    local got, err
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function() c:send(data); c:shutdown("send") end)
      local parts = {}
      while true do
        local d, e = c:receiveany(1000)
        if not d then err = e break end
        parts[#parts + 1] = d
        b.sleep(2)       -- about 500 KB/s: far slower than the link
      end
      got = table.concat(parts)
    end)
    assert.is_true(sim:run_until(function() return got ~= nil end, 600000))
    assert.are.same({}, log)
    assert.are.equal("closed", err)
    assert.are.equal(3 * #data, #got)
    -- Order kept: the input, chunk by chunk as on_data saw it, each three times.
    assert.is_true(table.concat(chunks) == data)
    local want = {}
    for i = 1, #chunks do want[i] = chunks[i]:rep(3) end
    assert.is_true(table.concat(want) == got)
    assert.are.equal(0, calls_while_pending)
    assert.is_true(drains > 0)
    -- Bounded by what one on_data call sent (its chunk, at most 64 KB,
    -- three times) minus what the send buffer took, however long the stream.
    local biggest = 0
    for i = 1, #chunks do biggest = math.max(biggest, #chunks[i]) end
    assert.is_true(biggest <= 65536)
    assert.is_true(max_pending > 0 and max_pending < 3 * biggest, "max pending " .. max_pending)
  end)

  it("on_drain drives a producer that never holds more than one chunk in Lua", function()
    local sim, a, b, log = setup { sndbuf = 16384, rcvbuf = 16384 }
    local chunk, max_pending, sent = pattern_bytes(10000, 2), 0, 0
    local function fill(conn)
      repeat
        conn:send(chunk)
        sent = sent + 1
      until conn:pending() > 0 or sent >= 100
      if conn:pending() > max_pending then max_pending = conn:pending() end
      if sent >= 100 then conn:close() end
    end
    assert(a.listen(19, { on_accept = fill, on_drain = fill }))
    local got
    b.spawn(function() got = assert(b.connect("10.0.0.1", 19)):receive("*a") end)
    assert.is_true(sim:run(60000))
    assert.are.same({}, log)
    assert.are.equal(100, sent)
    assert.is_true(got == chunk:rep(100))
    assert.is_true(max_pending > 0 and max_pending <= #chunk)
  end)

  it("a peer's FIN reaches on_close with nil after all data, and the close is graceful", function()
    local sim, a, b, log = setup()
    local events = {}
    assert(a.listen(7, {
      on_accept = function(conn) events[#events + 1] = "accept"; conn:send("hi\n") end,
      on_data = function(conn, data) events[#events + 1] = "data:" .. data end,
      on_close = function(conn, why)
        events[#events + 1] = "close:" .. tostring(why)
        events.peer = (conn:peer())
      end,
    }))
    local r1, r2
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      r1 = c:receive()
      c:send("bye")
      c:shutdown("send")
      r2 = { c:receive("*a") }
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal("hi", r1)
    assert.are.same({ "" }, r2)          -- FIN, not RST, from the server
    assert.are.same({ "accept", "data:bye", "close:nil" }, { events[1], events[2], events[3] })
    assert.are.equal("10.0.0.2", events.peer)
  end)

  it("a peer's RST reaches on_close as \"reset\"", function()
    local sim, a, b, log = setup()
    local why, data
    assert(a.listen(7, {
      on_data = function(_, d) data = d end,
      on_close = function(_, w) why = w end,
    }))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      b.sleep(50)
      c:abort()
    end)
    assert.is_true(sim:run_until(function() return why ~= nil end, 10000))
    assert.are.same({}, log)
    assert.are.equal("x", data)
    assert.are.equal("reset", why)
  end)

  it("an error in on_data is reported with a traceback and resets only its connection", function()
    local sim, a, b, log = setup()
    local closes = {}
    assert(a.listen(7, {
      on_data = function(conn, data)
        if data:find("boom") then error("exploded on purpose") end
        conn:send(data)
      end,
      on_close = function(_, why) closes[#closes + 1] = tostring(why) end,
    }))
    local bad, good = {}, {}
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("boom")
      bad = { c:receive() }
    end)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      for i = 1, 3 do
        c:send("line " .. i .. "\n")
        good[i] = c:receive()
        b.sleep(100)
      end
      c:close()
    end)
    sim:run(20000)
    assert.are.equal(1, #log)
    assert.matches("error in on_data callback", log[1], 1, true)
    assert.matches("exploded on purpose", log[1], 1, true)
    assert.matches("stack traceback", log[1], 1, true)
    assert.are.same({ nil, "reset", "" }, bad)
    assert.are.same({ "line 1", "line 2", "line 3" }, good)
    table.sort(closes)
    assert.are.same({ "error", "nil" }, closes)
  end)

  it("a connection object is the same across callbacks while the script holds it", function()
    local sim, a, b, log = setup()
    local seen, kept = {}, nil
    assert(a.listen(7, {
      on_accept = function(conn) kept = conn end,
      on_data = function(conn) seen[#seen + 1] = rawequal(conn, kept) end,
      on_close = function(conn) seen[#seen + 1] = rawequal(conn, kept) end,
    }))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("a"); b.sleep(10); c:send("b"); b.sleep(10)
      c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.same({ true, true, true }, seen)
    assert.are.same({ nil, "closed" }, { kept:send("late") })
    assert.are.equal("CLOSED", kept:state())
  end)

  it("conn:close with queued bytes delivers them, then FIN", function()
    local sim, a, b, log = setup { sndbuf = 8192 }
    local big = pattern_bytes(100000, 3)
    local why = "not called"
    assert(a.listen(7, {
      on_accept = function(conn)
        conn:send(big)
        assert(conn:pending() > 0)
        conn:close()
        assert.are.same({ nil, "closed" }, { conn:send("more") })
      end,
      on_close = function(_, w) why = w end,
    }))
    local got
    b.spawn(function() got = assert(b.connect("10.0.0.1", 7)):receive("*a") end)
    assert.is_true(sim:run(20000))
    assert.are.same({}, log)
    assert.is_true(got == big)
    assert.is_nil(why)
  end)

  it("coroutine connections are unchanged beside an event server", function()
    local sim, a, b, log = setup()
    assert(a.listen(7, echo))
    assert(a.listen(8, function(conn) conn:send((conn:receive()):upper() .. "\n") end))
    local r7, r8
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7)); c:send("x\n"); r7 = c:receive(); c:close()
      c = assert(b.connect("10.0.0.1", 8)); c:send("y\n"); r8 = c:receive(); c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal("x", r7)
    assert.are.equal("Y", r8)
  end)

  it("closing the listener leaves its connections working; shutdown aborts them", function()
    local sim, a, b, log = setup()
    local whys = {}
    local srv = assert(a.listen(7, {
      on_data = function(conn, data) conn:send(data) end,
      on_close = function(_, why) whys[#whys + 1] = tostring(why) end,
    }))
    local r1, r2, refused
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("one\n"); r1 = c:receive()
      srv:close()
      c:send("two\n"); r1 = r1 .. c:receive()
      refused = { b.connect("10.0.0.1", 7) }
      r2 = { c:receive() }          -- until the server stack shuts down
    end)
    assert.is_true(sim:run_until(function() return refused ~= nil end, 10000))
    assert.are.equal("onetwo", r1)
    assert.are.same({ nil, "refused" }, refused)
    a._runtime:shutdown()
    assert.is_true(sim:run_until(function() return r2 ~= nil end, 10000))
    assert.are.same({}, log)
    assert.are.same({ nil, "reset", "" }, r2)
    assert.are.same({ "aborted" }, whys)
  end)

  it("applies the listener's per-connection options to each accepted connection", function()
    local sim, a, b, log = setup()
    local seen
    assert(a.listen(7, {
      on_accept = function(conn)
        seen = { conn:getoption("nodelay"), conn:getoption("congestion") }
        conn:close()
      end,
    }, { nodelay = true, congestion = "newreno" }))
    b.spawn(function() assert(b.connect("10.0.0.1", 7)):receive("*a") end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.same({ 1, "newreno" }, seen)
    assert.are.same({ nil, "congestion control must be one of bbr, cubic, newreno, reno" },
      { a.listen(8, echo, { congestion = "vegas" }) })
  end)

  it("fields stored on conn survive garbage collection and are released when it ends", function()
    local sim, a, b, log = setup()
    local counts, weak = {}, setmetatable({}, { __mode = "v" })
    assert(a.listen(7, {
      on_data = function(conn, data)
        conn.n = (conn.n or 0) + 1
        conn.buf = (conn.buf or "") .. data
        counts[#counts + 1] = conn.n .. ":" .. conn.buf
        weak[1] = conn
      end,
    }))
    local closed = false
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7, { nodelay = true }))
      for i = 1, 4 do
        c:send(tostring(i))
        b.sleep(10)
        collectgarbage("collect")
        collectgarbage("collect")
      end
      c:close()
      closed = true
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.is_true(closed)
    assert.are.same({ "1:1", "2:12", "3:123", "4:1234" }, counts)
    -- Ended: the pin is gone, and so is the object once the script drops it.
    assert.is_nil(next(a._runtime.evs.pinned))
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_nil(weak[1])
  end)

  it("close with bytes queued and input still arriving sends the whole reply, then FIN", function()
    -- The reviewer's scenario: the reply outgrows the send buffer, so close
    -- lingers; the client's next line arrives meanwhile and is dropped
    -- instead of turning the close into a RST (RFC 9293 3.10.4).
    local sim, a, b, log = setup { sndbuf = 8192 }
    local big = pattern_bytes(100000, 4)
    local why = "not called"
    assert(a.listen(7, {
      on_data = function(conn)
        conn:send(big)
        assert(conn:pending() > 0)
        conn:close()
      end,
      on_close = function(_, w) why = w end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("GET\n")
      b.sleep(5)
      c:send("more pipelined bytes\n")
      got = { c:receive("*a") }
    end)
    assert.is_true(sim:run(20000))
    assert.are.same({}, log)
    assert.are.equal(1, #got, "receive *a failed: " .. tostring(got[2]))
    assert.is_true(got[1] == big, "got " .. #got[1] .. " bytes")
    assert.is_nil(why)
    assert.are.equal(0, a.stats().tcp_rst_data_after_close)
  end)

  it("a closing connection reset by its peer reports \"reset\" to on_close", function()
    local sim, a, b, log = setup { sndbuf = 8192, rcvbuf = 8192 }
    local why = "not called"
    assert(a.listen(7, {
      on_accept = function(conn)
        conn:send(pattern_bytes(100000, 5))
        conn:close()
      end,
      on_close = function(_, w) why = w end,
    }))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:receive(1000)
      c:abort()
    end)
    assert.is_true(sim:run_until(function() return why ~= "not called" end, 20000))
    assert.are.same({}, log)
    assert.are.equal("reset", why)
  end)

  it("a close lingers for the peer's FIN at most 5 s, then hands the connection to the stack", function()
    local sim, a, b, log = setup()
    local closed_at, on_close_at, why
    assert(a.listen(7, {
      on_accept = function(conn)
        conn:send("bye\n")
        conn:close()
        closed_at = a.now()
      end,
      on_close = function(_, w) on_close_at, why = a.now(), w end,
    }))
    local got, c
    b.spawn(function()
      c = assert(b.connect("10.0.0.1", 7))
      got = { c:receive("*a") }      -- the server's FIN; the client never closes
      repeat b.sleep(100) until on_close_at
    end)
    assert.is_true(sim:run_until(function() return on_close_at ~= nil end, 20000))
    assert.are.same({}, log)
    assert.are.same({ "bye\n" }, got)
    assert.is_nil(why)               -- every byte was acknowledged
    local waited = on_close_at - closed_at
    assert.is_true(waited >= 5000 and waited < 5100, "lingered " .. waited .. " ms")
  end)

  it("after shutdown, send returns nil, \"closed\" with or without bytes queued", function()
    local sim, a, b, log = setup { sndbuf = 8192 }
    local r = {}
    assert(a.listen(7, {
      on_accept = function(conn)
        conn:send(pattern_bytes(50000, 6))
        assert(conn:pending() > 0)
        assert(conn:shutdown())
        r.queued = { conn:send("late") }
      end,
    }, { sndbuf = 8192 }))
    assert(a.listen(8, {
      on_accept = function(conn)
        assert(conn:shutdown())
        assert.are.equal(0, conn:pending())
        r.empty = { conn:send("late") }
      end,
    }))
    local got = {}
    b.spawn(function()
      got[7] = assert(b.connect("10.0.0.1", 7)):receive("*a")
      got[8] = assert(b.connect("10.0.0.1", 8)):receive("*a")
    end)
    assert.is_true(sim:run(20000))
    assert.are.same({}, log)
    assert.are.same({ nil, "closed" }, r.queued)
    assert.are.same({ nil, "closed" }, r.empty)
    assert.are.equal(50000, #got[7])
    assert.are.equal("", got[8])
  end)

  it("a bad listener option fails listen, naming the option, and applies from the handshake", function()
    local sim, a, b, log = setup()
    for _, case in ipairs({ { mss = 10 }, { keepidle = 0 }, { keepcnt = 1000 }, { sndbuf = 0 },
      { backlog = 100000 } }) do
      local name = next(case)
      local srv, err = a.listen(7, echo, case)
      assert.is_nil(srv, name)
      assert.matches(name, err, 1, true)
    end
    -- Nothing left behind: the port is free; good values are taken, and the
    -- MSS reaches the SYN-ACK rather than only the accepted connection.
    assert(a.listen(7, echo, { mss = 536, keepidle = 1000, linger = 2000 }))
    local mss, linger
    assert(a.listen(9, { on_accept = function(conn) linger = conn:getoption("linger"); conn:close() end },
      { linger = 2000 }))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      mss = c:info().snd_mss
      c:close()
      assert(b.connect("10.0.0.1", 9)):receive("*a")
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.is_true(mss <= 536, "client's MSS toward the server is " .. tostring(mss))
    assert.are.equal(2000, linger)
  end)

  it("segment hooks make no conn object for event connections they do not pass one to", function()
    local sim, a, b, log = setup()
    assert(a.listen(9, {}))          -- discard: no callback ever needs a conn
    assert(b.listen(7, echo))
    local hooked, sent, done = 0, false, false
    a.spawn(function()
      -- A connection hook on a (coroutine side) turns a's segment hooks on.
      local c = assert(a.connect("10.0.0.2", 7))
      c:on_segment(function() hooked = hooked + 1 end)
      repeat c:send("x"); c:receive(1); a.sleep(10) until done
      c:close()
    end)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 9))
      for i = 1, 20 do c:send("discard me " .. i); b.sleep(1) end
      b.sleep(50)
      sent = true
      repeat b.sleep(10) until done
      c:close()
    end)
    collectgarbage("stop")           -- so the weak cache shows what was made
    local ok = sim:run_until(function() return sent end, 10000)
    local made = next(a._runtime.evs.conn)
    collectgarbage("restart")
    done = true
    assert.is_true(ok)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.is_true(hooked > 0)
    assert.is_nil(made)
  end)

  it("rejects bad handler tables", function()
    local _, a = setup()
    assert.has_error(function() a.listen(7, { on_dat = function() end }) end)
    assert.has_error(function() a.listen(7, { on_data = 42 }) end)
    -- The port is free again after the failed calls.
    assert(a.listen(7, echo))
  end)

  it("says an event connection cannot wait when a callback calls a waiting method", function()
    local sim, a, b, log = setup()
    local errs = {}
    assert(a.listen(7, { on_data = function(conn, data)
      for _, m in ipairs({ "receive", "receiveany", "peek", "receiveuntil", "settimeout" }) do
        local ok, err = pcall(conn[m], conn, 1)
        errs[m] = not ok and tostring(err):match("waits, and an event connection cannot") ~= nil
      end
      conn:send(data)
    end }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x\n")
      got = c:receive()
      c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal("x", got)
    assert.are.same({ receive = true, receiveany = true, peek = true, receiveuntil = true, settimeout = true }, errs)
  end)

  -- Opens n connections from raw C sockets on b (no Lua objects on the
  -- client side), pings each once and waits for every echo. Returns the
  -- Lua heap growth per connection in bytes after a full collection, with
  -- the server's listener made by listen_fn(a).
  local function idle_cost(n, listen_fn)
    local sim, a, b, log = setup { backlog = 1024 }
    local brt = b._runtime
    local socks = ffi.new("tl_sock *[?]", n)
    local err = ffi.new("int[1]")
    local ping = ffi.new("uint8_t[1]", 65)
    local dst = assert(core.ip("10.0.0.1"))
    listen_fn(a)
    collectgarbage("collect")
    collectgarbage("collect")
    local base = collectgarbage("count")
    local opened, est, answered = 0, 0, 0
    local function progress()
      while est < opened and C.tl_sock_state(socks[est]) == C.TL_ESTABLISHED do
        C.tl_send(socks[est], ping, 1, brt.now_us)
        est = est + 1
      end
      while answered < est and C.tl_readable(socks[answered]) > 0 do answered = answered + 1 end
      return answered == opened
    end
    -- Batches of 500 SYNs keep the accept queue within its backlog.
    while opened < n do
      local stop = math.min(n, opened + 500)
      for i = opened, stop - 1 do
        -- Explicit source ports: random ephemeral ones collide long before 20,000.
        socks[i] = C.tl_connect(brt.st, dst, 7, 10000 + i, brt.now_us, err)
        assert(socks[i] ~= nil, "tl_connect failed: " .. err[0])
      end
      opened = stop
      assert.is_true(sim:run_until(progress, 60000), "connections stalled at " .. answered)
    end
    assert.are.same({}, log)
    collectgarbage("collect")
    collectgarbage("collect")
    local per = (collectgarbage("count") - base) * 1024 / n
    -- Every connection is still there and answers a second ping.
    answered, est = 0, 0
    for i = 0, n - 1 do
      local buf = ffi.new("uint8_t[1]")
      C.tl_recv(socks[i], buf, 1, brt.now_us)
    end
    assert.is_true(sim:run_until(progress, 60000))
    return per
  end

  it("20,000 idle echo connections cost the Lua heap under 200 bytes each", function()
    local n = 20000
    local per = idle_cost(n, function(a) assert(a.listen(7, echo)) end)
    local co = idle_cost(5000, function(a)
      assert(a.listen(7, function(conn)
        while true do
          local d = conn:receiveany(65536)
          if not d then break end
          conn:send(d)
        end
      end))
    end)
    print(("\n    Lua heap per idle echo connection: event style %.0f B (N=%d), coroutine style %.0f B (N=5000)")
      :format(per, n, co))
    assert.is_true(per < 200, ("event style: %.0f bytes per connection"):format(per))
    assert.is_true(per < co / 4)
  end)

  it("with opts.idle_timeout set, 20,000 idle echo connections still cost under 200 bytes each", function()
    -- Each connection has just received its ping, so each is in the
    -- sweep's set of recently active connections: the worst case.
    local n = 20000
    local per = idle_cost(n, function(a) assert(a.listen(7, echo, { idle_timeout = 600000 })) end)
    print(("\n    Lua heap per idle echo connection with idle_timeout: %.0f B (N=%d)"):format(per, n))
    assert.is_true(per < 200, ("event style with idle_timeout: %.0f bytes per connection"):format(per))
  end)
end)
