-- Coroutine sockets between two stacks over the sim (virtual clock).
local core = require "tcplua.core"

local function ready()
  local ok = pcall(function() return core.C.tl_sim_new and core.C.tl_listen end)
  if not ok then return false, "tl_sim_* / TCP not in the core yet" end
  -- The TCP engine replaces a stub; a listener from the stub is NULL.
  local st = core.C.tl_stack_new(nil, nil, nil)
  local err = core.ffi.new("int[1]")
  local l = core.C.tl_listen(st, 1, 1, err)
  local real = l ~= nil
  if real then core.C.tl_close(l, 0) end
  core.C.tl_stack_free(st)
  if not real then return false, "TCP engine not built yet (tl_listen returned NULL)" end
  return true
end

local function pattern_bytes(n, seed)
  local t, x = {}, seed or 1
  local block = {}
  for i = 1, 256 do
    x = (x * 1103515245 + 12345) % 2147483648
    block[i] = string.char(x % 256)
  end
  local b = table.concat(block)
  for i = 1, math.ceil(n / 256) do t[i] = b end
  local s = table.concat(t):sub(1, n)
  return s
end

-- Two stacks: server a (10.0.0.1) and client b (10.0.0.2). Errors reported
-- by either runtime go to `log`.
local function setup(opts)
  opts = opts or {}
  local log = {}
  local sim = require("tcplua.sim").new { seed = opts.seed or 1, latency_ms = opts.latency_ms or 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1", tcp_sndbuf = opts.sndbuf, tcp_rcvbuf = opts.rcvbuf }
  local b = sim:stack { addr = "10.0.0.2", tcp_sndbuf = opts.sndbuf, tcp_rcvbuf = opts.rcvbuf }
  return sim, a, b, log
end

-- Runs the sim and checks that no coroutine or callback raised (an assert
-- failing inside a coroutine is reported, not thrown at the spec).
local function run(sim, log, ms)
  local finished = sim:run(ms or 10000)
  assert.are.same({}, log)
  return finished
end

local function echo_handler(conn)
  while true do
    local d = conn:receiveany(65536)
    if not d then break end
    if not conn:send(d) then break end
  end
end

describe("sockets over the sim", function()
  local ok, why = ready()
  if not ok then
    it("need the TCP engine and the sim", function() pending(why) end)
    return
  end

  it("echo 1 MB byte-exact (send, shutdown, receive *a)", function()
    local sim, a, b, log = setup()
    assert(a.listen(7, echo_handler))
    local data = pattern_bytes(1024 * 1024, 3)
    local got, err
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function()
        assert.are.equal(#data, c:send(data))
        assert(c:shutdown("send"))
      end)
      got, err = c:receive("*a")
    end)
    assert.is_true(run(sim, log, 60000))
    assert.is_nil(err)
    assert.are.equal(#data, #got)
    assert.is_true(got == data)
  end)

  it("echo 1 MB byte-exact under 10% loss, reordering and duplication", function()
    local sim, a, b, log = setup { seed = 5 }
    sim:impair(nil, { loss = 0.1, reorder = 0.05, duplicate = 0.01, delay_ms = 2, jitter_ms = 1 })
    assert(a.listen(7, echo_handler))
    local data = pattern_bytes(1024 * 1024, 9)
    local got, err
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function() c:send(data); c:shutdown("send") end)
      got, err = c:receive("*a")
    end)
    assert.is_true(run(sim, log, 600000))
    assert.is_nil(err)
    assert.is_true(got == data)
  end)

  it("echo is byte-exact over 20 seeds of loss, reordering and duplication", function()
    local bad = {}
    for seed = 1, 20 do
      local sim, a, b, log = setup { seed = seed }
      sim:impair(nil, { loss = 0.05, reorder = 0.05, duplicate = 0.02, delay_ms = 1, jitter_ms = 1 })
      a.listen(7, echo_handler)
      local data = pattern_bytes(100000 + seed * 1000, seed)
      local got
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", 7))
        b.spawn(function() c:send(data); c:shutdown("send") end)
        got = c:receive("*a")
      end)
      sim:run_until(function() return got ~= nil end, 300000)
      if got ~= data or #log > 0 then bad[#bad + 1] = seed end
    end
    assert.are.same({}, bad)
  end)

  it("receive patterns: *l (CR stripped), a byte count, receiveany and *a", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn)
      conn:send({ "first line\r\n", "second\n", "\n", "0123456789", "abc", "tail without newline" })
    end)
    local r = {}
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      r[1] = c:receive()
      r[2] = c:receive("*l")
      r[3] = c:receive("*l")
      r[4] = c:receive(10)
      r[5] = c:receive(0)
      r[6] = c:receiveany(3)
      r[7] = c:receive("*a")
      r[8] = { c:receive("*l") }
      r[9] = { c:receiveany(10) }
    end)
    run(sim, log, 10000)
    assert.are.equal("first line", r[1])
    assert.are.equal("second", r[2])
    assert.are.equal("", r[3])
    assert.are.equal("0123456789", r[4])
    assert.are.equal("", r[5])
    assert.are.equal("abc", r[6])
    assert.are.equal("tail without newline", r[7])
    assert.are.same({ nil, "closed", "" }, r[8])
    assert.are.same({ nil, "closed" }, r[9])
  end)

  it("a partial line or count at FIN comes back as nil, closed, partial", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn) conn:send("no newline here") end)
    a.listen(8, function(conn) conn:send("12345") end)
    local r1, r2
    b.spawn(function()
      r1 = { assert(b.connect("10.0.0.1", 7)):receive("*l") }
      r2 = { assert(b.connect("10.0.0.1", 8)):receive(10) }
    end)
    run(sim, log, 10000)
    assert.are.same({ nil, "closed", "no newline here" }, r1)
    assert.are.same({ nil, "closed", "12345" }, r2)
  end)

  it("lines and counts longer than the receive buffer arrive whole", function()
    local sim, a, b, log = setup { rcvbuf = 16384, sndbuf = 16384 }
    local line = pattern_bytes(100000, 4):gsub("\n", "_")
    local block = pattern_bytes(150000, 6)
    a.listen(7, function(conn) conn:send({ line, "\n", block }) end)
    local got1, got2
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7, { max_line = 200000 }))  -- over the 64 KiB default
      got1 = c:receive("*l")
      got2 = c:receive(#block)
    end)
    run(sim, log, 60000)
    assert.is_true(got1 == line)
    assert.is_true(got2 == block)
  end)

  it("send takes an array of strings and returns the byte count", function()
    local sim, a, b, log = setup()
    local got
    a.listen(7, function(conn) got = conn:receive("*a") end)
    local n
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      n = c:send({ "GET / HTTP/1.0", "\r\n", "Host: x", "\r\n\r\n" })
      c:close()
    end)
    run(sim, log, 10000)
    assert.are.equal(#"GET / HTTP/1.0\r\nHost: x\r\n\r\n", n)
    assert.are.equal("GET / HTTP/1.0\r\nHost: x\r\n\r\n", got)
  end)

  it("back-pressure: send waits on a slow reader and Lua memory stays bounded", function()
    local sim, a, b, log = setup { sndbuf = 65536, rcvbuf = 65536 }
    local chunk = string.rep("z", 65536)
    local accepted, stalled_at = 0, nil
    a.listen(19, function(conn)
      for _ = 1, 64 do            -- 4 MB
        local n = conn:send(chunk)
        if not n then return end
        accepted = accepted + n
      end
    end)
    local received, mem_peak = 0, 0
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 19))
      b.sleep(2000)               -- not reading: the sender must stall
      stalled_at = accepted
      collectgarbage()
      local base = collectgarbage("count")
      while true do
        local d = c:receiveany(4096)
        if not d then break end
        received = received + #d
        b.sleep(1)
        mem_peak = math.max(mem_peak, collectgarbage("count") - base)
      end
    end)
    assert.is_true(run(sim, log, 600000))
    assert.is_true(stalled_at <= 65536 * 2 + 65536, "sender ran ahead: " .. stalled_at)
    assert.are.equal(64 * 65536, received)
    assert.is_true(mem_peak < 8 * 1024, "Lua memory grew by " .. mem_peak .. " KB")
  end)

  it("a read timeout gives nil, timeout and the connection stays usable", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn)
      a.sleep(500)
      conn:send("late\n")
    end)
    local r1, r2, t_fail
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:settimeout(100)
      local t0 = b.now()
      r1 = { c:receive() }
      t_fail = b.now() - t0
      c:settimeouts(nil, nil, 5000)
      r2 = c:receive()
    end)
    run(sim, log, 10000)
    assert.are.same({ nil, "timeout", "" }, r1)
    assert.is_true(t_fail >= 100 and t_fail < 110)
    assert.are.equal("late", r2)
  end)

  it("a send timeout gives nil, timeout and the bytes already queued", function()
    local sim, a, b, log = setup { sndbuf = 16384, rcvbuf = 16384 }
    a.listen(7, function(conn) a.sleep(3000); conn:receive("*a") end)   -- a slow reader
    local r
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:settimeouts(nil, 200, nil)
      r = { c:send(string.rep("s", 1000000)) }
    end)
    run(sim, log, 30000)
    assert.is_nil(r[1])
    assert.are.equal("timeout", r[2])
    assert.is_true(r[3] > 0 and r[3] < 1000000)
  end)

  it("connect to a closed port gives refused; to nobody, a timeout", function()
    local sim, _, b, log = setup()
    local r1, r2
    b.spawn(function()
      r1 = { b.connect("10.0.0.1", 4444) }
      r2 = { b.connect("10.0.0.99", 80, { timeout = 300 }) }
    end)
    run(sim, log, 60000)
    assert.are.same({ nil, "refused" }, r1)
    assert.are.same({ nil, "timeout" }, r2)
  end)

  it("a peer reset gives reset", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn)
      conn:receive()
      conn:abort()
    end)
    local r
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("bye\n")
      r = { c:receive() }
    end)
    run(sim, log, 10000)
    assert.are.equal(nil, r[1])
    assert.are.equal("reset", r[2])
  end)

  it("a second concurrent reader gets busy", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn) a.sleep(50); conn:send("x\n") end)
    local first, second
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function() first = c:receive() end)
      second = { c:receive() }
      repeat b.sleep(1) until first   -- the owner outlives the reader it lent c to
    end)
    run(sim, log, 10000)
    assert.are.same({ nil, "busy" }, { second[1], second[2] })
    assert.are.equal("x", first)
  end)

  it("a handler error aborts only its connection; others go on", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn)
      while true do
        local line = conn:receive()
        if not line then return end
        if line == "die" then error("handler exploded") end
        conn:send(line .. "\n")
      end
    end)
    local bad, good = {}, {}
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("die\n")
      bad = { c:receive() }
    end)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      for i = 1, 3 do
        c:send("ping" .. i .. "\n")
        good[i] = c:receive()
        b.sleep(10)
      end
    end)
    sim:run(10000)
    assert.are.same({ "ping1", "ping2", "ping3" }, good)
    assert.are.equal("reset", bad[2])
    assert.are.equal(1, #log)
    assert.matches("error in connection handler: .*handler exploded", log[1])
    assert.matches("stack traceback", log[1])
  end)

  it("half-close: shutdown(send) lets the peer read to FIN and still answer", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn)
      local all = conn:receive("*a")
      conn:send("got " .. #all .. " bytes")
    end)
    local reply
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send(string.rep("q", 5000))
      assert(c:shutdown("send"))
      reply = c:receive("*a")
    end)
    run(sim, log, 10000)
    assert.are.equal("got 5000 bytes", reply)
  end)

  it("info(), peer() and sockname() describe the connection", function()
    local sim, a, b, log = setup()
    local server_side
    a.listen(7, function(conn)
      server_side = { conn:peer() }
      echo_handler(conn)
    end)
    local info, peer, me
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      peer = { c:peer() }
      me = { c:sockname() }
      c:send(string.rep("i", 20000))
      c:receive(20000)
      info = c:info()
      assert(c:setoption("nodelay", true))
      assert.are.equal(1, c:getoption("nodelay"))
      local ok, err = c:setoption("bogus", 1)
      assert.is_nil(ok); assert.matches("unknown option", err)
    end)
    run(sim, log, 10000)
    assert.are.same({ "10.0.0.1", 7 }, peer)
    assert.are.equal("10.0.0.2", me[1])
    assert.are.same({ "10.0.0.2", me[2] }, server_side)
    assert.are.equal("ESTABLISHED", info.state:upper())
    for _, k in ipairs({ "snd_una", "snd_nxt", "snd_wnd", "rcv_nxt", "rcv_wnd", "mss", "cwnd",
      "ssthresh", "srtt", "rttvar", "rto", "retransmits", "total_retrans", "bytes_sent",
      "bytes_acked", "bytes_received", "segs_in", "segs_out" }) do
      assert.is_number(info[k], k)
    end
    assert.are.equal(20000, info.bytes_received)
    assert.is_true(info.bytes_sent >= 20000)
    assert.is_true(info.srtt > 0 and info.srtt < 100)
    assert.is_true(info.mss > 0 and info.mss <= 1460)
  end)

  it("listen on a port in use fails; closing a server frees it", function()
    local _, a = setup()
    local s1 = assert(a.listen(80, function() end))
    local s2, err = a.listen(80, function() end)
    assert.is_nil(s2)
    assert.are.equal("in use", err)
    assert.is_true(s1:close())
    assert.truthy(a.listen(80, function() end))
  end)

  it("50 concurrent connections each get their own bytes back", function()
    local sim, a, b, log = setup()
    assert(a.listen(7, echo_handler, { backlog = 64 }))
    local results = {}
    for i = 1, 50 do
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", 7))
        local msg = pattern_bytes(1000 + i * 37, i)
        b.spawn(function() c:send(msg); c:shutdown("send") end)
        results[i] = c:receive("*a") == msg
      end)
    end
    run(sim, log, 60000)
    for i = 1, 50 do assert.is_true(results[i], "connection " .. i) end
  end)

  it("the network goes quiet once both ends have closed", function()
    local sim, a, b, log = setup()
    a.listen(7, function(conn) conn:receive("*a") end)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      -- Two small writes: the second waits for an ACK (Nagle), then goes
      -- out with the FIN.
      c:send("GET / HTTP/1.0\r\n")
      c:send("Host: x\r\n\r\n")
      c:close()
    end)
    assert.is_true(run(sim, log, 20000), "packets still flowing after 20 s")
    assert.is_true(a.stats().ip_out < 20, "server sent " .. a.stats().ip_out .. " datagrams")
    assert.is_true(b.stats().ip_out < 20, "client sent " .. b.stats().ip_out .. " datagrams")
  end)

  it("listen opts reach every accepted connection", function()
    local sim, a, b, log = setup()
    local seen
    a.listen(7, function(conn)
      seen = { nodelay = conn:getoption("nodelay"), keepalive = conn:getoption("keepalive"),
        sndbuf = conn:getoption("sndbuf") }
    end, { nodelay = true, keepalive = true, sndbuf = 32768, backlog = 4 })
    b.spawn(function() assert(b.connect("10.0.0.1", 7)):receive("*a") end)
    run(sim, log, 10000)
    assert.are.same({ nodelay = 1, keepalive = 1, sndbuf = 32768 }, seen)
  end)

  it("a bad listen option fails listen, naming the option; good ones apply from the handshake", function()
    local sim, a, b, log = setup()
    for _, case in ipairs({ { mss = 10 }, { keepidle = 0 }, { keepintvl = 0 }, { rcvbuf = 0 },
      { backlog = 0 }, { congestion = "vegas" }, { nodelay = "yes" } }) do
      local name = next(case)
      local srv, err = a.listen(7, echo_handler, case)
      assert.is_nil(srv, name)
      assert.matches(name, err, 1, true)
    end
    -- The port is still free, and the listener's MSS is the one its SYN-ACK
    -- announced: the client's segments toward it are no larger.
    assert(a.listen(7, function(conn) conn:receive("*a") end, { mss = 536, user_timeout = 30000 }))
    local mss
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      mss = c:info().snd_mss
      c:close()
    end)
    run(sim, log, 10000)
    assert.is_true(mss <= 536, "client's MSS toward the server is " .. tostring(mss))
  end)

  it("send after shutdown returns nil, \"closed\"", function()
    local sim, a, b, log = setup()
    local r
    a.listen(7, function(conn)
      conn:send("x")
      assert(conn:shutdown())
      r = { conn:send("late") }
    end)
    b.spawn(function() assert(b.connect("10.0.0.1", 7)):receive("*a") end)
    run(sim, log, 10000)
    assert.are.same({ nil, "closed", 0 }, r)
  end)

  it("a second concurrent writer gets busy", function()
    local sim, a, b, log = setup { sndbuf = 16384, rcvbuf = 16384 }
    a.listen(7, function(conn) a.sleep(200); conn:receive("*a") end)
    local second, first
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      b.spawn(function() first = c:send(string.rep("w", 200000)) end)
      second = { c:send("x") }
      repeat b.sleep(1) until first
    end)
    run(sim, log, 30000)
    assert.are.same({ nil, "busy", 0 }, second)
    assert.are.equal(200000, first)
  end)

  it("shutting the runtime down resets open connections", function()
    local sim, a, b, log = setup()
    a.listen(7, echo_handler)
    local r
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x\n")
      c:receive()
      a._runtime:shutdown()      -- what the binary does on SIGINT/SIGTERM
      r = { c:receive() }
    end)
    run(sim, log, 10000)
    assert.are.same({ nil, "reset", "" }, r)
    local again
    b.spawn(function() again = { b.connect("10.0.0.1", 7) } end)
    run(sim, log, 10000)
    assert.are.same({ nil, "refused" }, again)
  end)

  it("connect outside a coroutine raises a clear error", function()
    local _, _, b = setup()
    local ok, err = pcall(b.connect, "10.0.0.1", 7)
    assert.is_false(ok)
    assert.matches("tcplua.connect must be called inside a tcplua coroutine", err)
  end)
end)
