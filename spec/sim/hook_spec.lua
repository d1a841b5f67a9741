-- Segment hooks, accept filters and tcplua.inject between two sim stacks:
-- server a (10.0.0.1) and client b (10.0.0.2).
local fault = require "tcplua.fault"

local function setup(seed) return require("helpers.luasim").pair(seed) end

local function echo_server(a, port, opts)
  return assert(a.listen(port or 7, function(c)
    while true do
      local d = c:receiveany(65536)
      if not d then break end
      c:send(d)
    end
  end, opts))
end

-- Connects from b, sends msg, reads it back; returns the reply or nil, err.
local function roundtrip(sim, b, msg, port, timeout)
  local res, err
  b.spawn(function()
    local c, e = b.connect("10.0.0.1", port or 7, { timeout = timeout or 5000 })
    if not c then err = e; return end
    c:settimeout(timeout or 5000)
    c:send(msg)
    res, err = c:receive(#msg)
    c:close()
  end)
  sim:run_until(function() return res ~= nil or err ~= nil end, 60000)
  return res, err
end

describe("segment hooks", function()
  it("show the segment's fields and options on a zero-copy view", function()
    local sim, a, b, log = setup()
    echo_server(a)
    local syn
    b.on_segment(function(seg, dir)
      if dir == "out" and seg.flags == "S" then
        syn = { src = seg.src, dst = seg.dst, dport = seg.dport, sport = seg.sport, mss = seg.options.mss,
          sackok = seg.options.sackok, ts = seg.options.ts, wscale = seg.options.wscale, len = seg.len,
          bits = seg.bits, raw = seg.raw_options, size = seg.size }
      end
    end)
    assert.are.equal("hello", roundtrip(sim, b, "hello"))
    assert.are.same({}, log)
    assert.are.equal("10.0.0.2", syn.src)
    assert.are.equal("10.0.0.1", syn.dst)
    assert.are.equal(7, syn.dport)
    assert.is_true(syn.sport >= 1024)
    assert.are.equal(1460, syn.mss)
    assert.is_true(syn.sackok)
    assert.is_table(syn.ts)
    assert.is_number(syn.wscale)
    assert.are.equal(0, syn.len)
    assert.are.equal(2, syn.bits)
    assert.are.equal(syn.size - 40, #syn.raw)
  end)

  it("see every segment both ways, with the connection object", function()
    local sim, a, b = setup()
    echo_server(a)
    local n, with_conn, payload = { ["in"] = 0, out = 0 }, 0, {}
    b.on_segment(function(seg, dir, conn)
      n[dir] = n[dir] + 1
      if conn then with_conn = with_conn + 1 end
      if seg.len > 0 then payload[#payload + 1] = seg.payload end
    end)
    assert.are.equal("ping", roundtrip(sim, b, "ping"))
    -- in: SYN-ACK and the echo (which carries the server's ACK and window);
    -- out: SYN, ACK, data
    assert.is_true(n["in"] >= 2 and n.out >= 3)
    assert.is_true(with_conn > 0)
    assert.are.same({ "ping", "ping" }, payload)
  end)

  it("can rewrite fields; the checksums are fixed after the hook", function()
    local sim, a, b = setup()
    echo_server(a)
    local wins = {}
    -- b advertises a small window; a's view of it shows the rewrite.
    b.on_segment(function(seg, dir)
      if dir == "out" and seg.flags ~= "S" then seg.win = 1000 end
    end)
    a.on_segment(function(seg, dir)
      if dir == "in" and seg.flags ~= "S" then wins[#wins + 1] = seg.win end
    end)
    local msg = string.rep("x", 20000)
    assert.are.equal(msg, roundtrip(sim, b, msg))
    assert.is_true(#wins > 0)
    for _, w in ipairs(wins) do assert.are.equal(1000, w) end
    assert.are.equal(0, a.stats().drop_tcp_checksum or 0)
  end)

  it("a hook that raises is reported and the segment passes", function()
    local sim, a, b, log = setup()
    echo_server(a)
    b.on_segment(function() error("boom") end)
    local msg = string.rep("y", 50000)
    assert.are.equal(msg, roundtrip(sim, b, msg))
    assert.is_true(#log > 0)
    assert.truthy(log[1]:find("boom", 1, true))
    assert.truthy(log[1]:find("traceback", 1, true))
    assert.is_true(b.stats().hook_errors > 0)
  end)

  it("drop, delay, duplicate and corrupt verdicts act and are counted", function()
    local sim, a, b = setup()
    echo_server(a)
    local k = 0
    b.on_segment(function(seg, dir)
      if dir ~= "out" or seg.len == 0 then return end
      k = k + 1
      if k == 1 then return "drop" end
      if k == 2 then return { delay = 30 } end
      if k == 3 then return { duplicate = 2 } end
      if k == 4 then return "corrupt" end
    end)
    local msg = string.rep("z", 30000)
    assert.are.equal(msg, roundtrip(sim, b, msg))
    local s = b.stats()
    assert.is_true(s.hook_dropped >= 1)
    assert.is_true(s.hook_delayed >= 1)
    assert.is_true(s.hook_duplicated >= 2)
    assert.are.equal(1, s.hook_corrupted)
    assert.is_true(a.stats().drop_tcp_checksum >= 1)
  end)

  it("a replacement segment is sent instead", function()
    local sim, a, b = setup()
    echo_server(a)
    local replaced = false
    b.on_segment(function(seg, dir)
      if dir == "out" and seg.len > 0 and not replaced then
        replaced = true
        -- Same place in the stream, other bytes: the echo shows them.
        return fault.copy(seg, { payload = ("Q"):rep(seg.len) })
      end
    end)
    assert.are.equal("QQQQ", roundtrip(sim, b, "abcd"))
    assert.are.equal(1, b.stats().hook_replaced)
  end)

  it("conn:on_segment and opts.on_segment see only their connection", function()
    local sim, a, b = setup()
    local per_listener, per_conn = 0, 0
    echo_server(a, 7, { on_segment = function(seg) assert(seg.sport == 7 or seg.dport == 7); per_listener = per_listener + 1 end })
    echo_server(a, 8)
    local res
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 8))
      c:on_segment(function(seg, dir, conn)
        assert(conn == c)
        per_conn = per_conn + 1
      end)
      c:send("abc")
      res = c:receive(3)
      c:close()
    end)
    sim:run_until(function() return res ~= nil end, 10000)
    assert.are.equal("abc", res)
    assert.are.equal(0, per_listener)
    assert.is_true(per_conn > 0)
    assert.are.equal("hi", roundtrip(sim, b, "hi", 7))
    assert.is_true(per_listener > 0)
  end)

  it("tcplua.inject sends a crafted segment", function()
    local sim, a, b = setup()
    echo_server(a)
    local seen
    a.on_segment(function(seg, dir)
      if dir == "in" and seg.dport == 9 then seen = { flags = seg.flags, src = seg.src } end
    end)
    assert.is_true(b.inject { dst = "10.0.0.1", sport = 4000, dport = 9, seq = 1, flags = "S" })
    sim:run_until(function() return seen ~= nil end, 1000)
    assert.are.same({ flags = "S", src = "10.0.0.2" }, seen)
    -- No listener on 9: the stack answers with a RST, as to any SYN.
    assert.is_true(a.stats().tcp_rst_out >= 1)
  end)
end)

describe("capture", function()
  it("records every segment both ways, dropped ones with the fault's note", function()
    local core = require "tcplua.core"
    local C = core.C
    local sim, a, b = setup()
    echo_server(a)
    local path = os.tmpname()
    local cap = assert(require("tcplua.pcap").open(path))
    C.tl_hook_set_pcap(b._runtime.st, cap.p)
    fault.seed(5)
    b.on_segment(fault.outbound(fault.drop_first(2)))
    assert.are.equal("abc", roundtrip(sim, b, "abc"))
    C.tl_hook_set_pcap(b._runtime.st, nil)
    local s = b.stats()
    local n = cap:count()
    assert.is_true(cap:close())
    local f = assert(io.open(path, "rb"))
    local bytes = f:read("*a")
    f:close()
    os.remove(path)
    -- Every datagram the stack saw or sent, plus the two it never sent.
    assert.are.equal(s.ip_in + s.ip_out, n)
    local notes = 0
    for _ in bytes:gmatch("dropped by fault: drop_first") do notes = notes + 1 end
    assert.are.equal(2, notes)
  end)
end)

describe("trace.timeseq", function()
  it("writes one connection's segments and cwnd samples to a CSV", function()
    local trace = require "tcplua.trace"
    local sim, a, b = setup()
    echo_server(a)
    local path = os.tmpname()
    local res, w
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      w = assert(trace.timeseq(c, path))
      c:send(string.rep("d", 5000))
      res = c:receive(5000)
      c:close()
    end)
    sim:run_until(function() return res ~= nil end, 10000)
    w:close()
    local f = assert(io.open(path))
    local text = f:read("*a")
    f:close()
    os.remove(path)
    assert.truthy(text:find("^t_ms,kind,dir,seq"))
    assert.truthy(text:find(",seg,out,", 1, true))
    assert.truthy(text:find(",seg,in,", 1, true))
    assert.truthy(text:find(",sample,", 1, true))
  end)
end)

describe("accept filters", function()
  it("true accepts, false refuses with a RST, \"drop\" stays silent", function()
    local sim, a, b = setup()
    echo_server(a)
    local verdict, views = true, {}
    a.accept_filter(function(syn)
      views[#views + 1] = { src = syn.src, dport = syn.dport, mss = syn.mss, sackok = syn.sackok }
      return verdict
    end)
    assert.are.equal("ok", roundtrip(sim, b, "ok"))
    assert.are.same({ src = "10.0.0.2", dport = 7, mss = 1460, sackok = true }, views[1])
    verdict = false
    local r, err = roundtrip(sim, b, "no")
    assert.is_nil(r)
    assert.are.equal("refused", err)
    verdict = "drop"
    r, err = roundtrip(sim, b, "no", 7, 3000)
    assert.is_nil(r)
    assert.are.equal("timeout", err)
    local s = a.stats()
    assert.is_true(s.accept_refused >= 1 and s.accept_dropped >= 1)
  end)

  it("opts.accept applies to its listener only", function()
    local sim, a, b = setup()
    echo_server(a, 7, { accept = function() return false end })
    echo_server(a, 8)
    local r, err = roundtrip(sim, b, "x", 7)
    assert.is_nil(r)
    assert.are.equal("refused", err)
    assert.are.equal("y", roundtrip(sim, b, "y", 8))
  end)
end)
