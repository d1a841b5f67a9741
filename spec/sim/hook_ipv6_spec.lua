-- Segment hooks, verdicts, tcplua.inject, --trace lines and --tseq rows
-- over IPv6 (RFC 8200): server a (fd77::1) and client b (fd77::2) on the
-- sim link, as spec/sim/hook_spec.lua does over IPv4.
local trace = require "tcplua.trace"

local function setup(seed)
  local log = {}
  local sim = require("tcplua.sim").new { seed = seed or 1, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1", addr6 = "fd77::1" }
  local b = sim:stack { addr = "10.0.0.2", addr6 = "fd77::2" }
  return sim, a, b, log
end

local function echo_server(a, port)
  return assert(a.listen(port or 7, function(c)
    while true do
      local d = c:receiveany(65536)
      if not d then break end
      c:send(d)
    end
  end))
end

local function roundtrip(sim, b, msg, port)
  local res, err
  b.spawn(function()
    local c, e = b.connect("fd77::1", port or 7, { timeout = 5000 })
    if not c then err = e; return end
    c:settimeout(5000)
    c:send(msg)
    res, err = c:receive(#msg)
    c:close()
  end)
  sim:run_until(function() return res ~= nil or err ~= nil end, 60000)
  return res, err
end

describe("segment hooks over IPv6", function()
  it("show the IPv6 header's fields and the TCP header after it", function()
    local sim, a, b, log = setup(11)
    echo_server(a)
    local syn, n, conns = nil, { ["in"] = 0, out = 0 }, 0
    b.on_segment(function(seg, dir, conn)
      n[dir] = n[dir] + 1
      if conn then conns = conns + 1 end
      if dir == "out" and seg.flags == "S" then
        syn = { src = seg.src, dst = seg.dst, dport = seg.dport, family = seg.family, ttl = seg.ttl,
          hop = seg.hop_limit, fl = seg.flow_label, id = seg.id, size = seg.size, mss = seg.options.mss,
          len = seg.len, proto = seg.proto, raw = seg.raw_options }
      end
    end)
    assert.are.equal("hello", roundtrip(sim, b, "hello"))
    assert.are.same({}, log)
    assert.are.same({ src = "fd77::2", dst = "fd77::1", dport = 7, family = 6, proto = "tcp", len = 0 },
      { src = syn.src, dst = syn.dst, dport = syn.dport, family = syn.family, proto = syn.proto, len = syn.len })
    assert.are.equal(syn.ttl, syn.hop)
    assert.is_true(syn.hop > 0)
    assert.is_true(syn.fl > 0) -- RFC 6437: every segment carries the connection's label
    assert.is_nil(syn.id)
    assert.are.equal(1500 - 60, syn.mss)
    assert.are.equal(40 + 20 + #syn.raw, syn.size)
    assert.is_true(n["in"] >= 2 and n.out >= 3)
    assert.is_true(conns > 0)
  end)

  it("drop, delay, duplicate and corrupt verdicts act and are counted", function()
    local sim, a, b = setup(12)
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

  it("rewritten fields get checksums over the IPv6 pseudo-header", function()
    local sim, a, b = setup(13)
    echo_server(a)
    local wins, labels, hops = {}, {}, {}
    b.on_segment(function(seg, dir)
      if dir == "out" and seg.flags ~= "S" then
        seg.win = 1000
        seg.flow_label = 0x12345
        seg.hop_limit = 7
      end
    end)
    a.on_segment(function(seg, dir)
      if dir == "in" and seg.flags ~= "S" then
        wins[#wins + 1], labels[#labels + 1], hops[#hops + 1] = seg.win, seg.flow_label, seg.ttl
      end
    end)
    local msg = string.rep("x", 20000)
    assert.are.equal(msg, roundtrip(sim, b, msg))
    assert.is_true(#wins > 0)
    for i = 1, #wins do assert.are.same({ 1000, 0x12345, 7 }, { wins[i], labels[i], hops[i] }) end
    assert.are.equal(0, a.stats().drop_tcp_checksum or 0)
  end)

  it("a fault policy (fault.loss) over IPv6 delivers byte-exact", function()
    local sim, a, b = setup(14)
    local fault = require "tcplua.fault"
    echo_server(a)
    b.on_segment(fault.loss(0.05))
    a.on_segment(fault.loss(0.05))
    local msg = string.rep("0123456789", 20000)
    assert.are.equal(msg, roundtrip(sim, b, msg))
    assert.is_true(b.stats().hook_dropped + a.stats().hook_dropped > 0)
  end)

  it("tcplua.inject sends a crafted IPv6 segment; an accept filter's refusal is an IPv6 RST", function()
    local sim, a, b = setup(15)
    echo_server(a, 9)
    a.accept_filter(function() return false end)
    local seen = {}
    b.on_segment(function(seg, dir)
      if dir == "in" then seen[#seen + 1] = { flags = seg.flags, src = seg.src, family = seg.family } end
    end)
    assert(b.inject { dst = "fd77::1", dport = 9, sport = 4444, seq = 100, flags = "S" })
    sim:run_until(function() return #seen > 0 end, 5000)
    assert.are.same({ flags = "R.", src = "fd77::1", family = 6 }, seen[1])
    assert.is_true(a.stats().accept_refused >= 1)
  end)
end)

describe("UDP over IPv6 through hooks", function()
  it("views datagrams, rewrites a port with the checksum fixed, drops by verdict, traces IP6 lines", function()
    local sim, a, b, log = setup(17)
    assert(a.udp { port = 7, on_datagram = function(s, data, ip, p) assert(s:sendto(data, ip, p)) end })
    assert(a.udp { port = 8, on_datagram = function(s, data, ip, p) assert(s:sendto("eight:" .. data, ip, p)) end })
    local seen, lines, k = {}, {}, 0
    local pr = trace.print_hook(nil, function(l) lines[#lines + 1] = l end)
    b.on_segment(function(seg, dir, conn, now)
      pr(seg, dir, conn, now)
      if seg.proto ~= "udp" then return end
      seen[#seen + 1] = { dir = dir, family = seg.family, src = seg.src, sport = seg.sport, dport = seg.dport,
        payload = seg.payload }
      if dir == "out" and seg.payload == "redirect" then seg.dport = 8 end
      if dir == "out" and seg.payload == "lost" then
        k = k + 1
        if k == 1 then return "drop" end
      end
    end)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(300)
      assert(c:sendto("hello", "fd77::1", 7))
      got[1] = c:receivefrom()
      assert(c:sendto("redirect", "fd77::1", 7))
      got[2] = c:receivefrom()
      assert(c:sendto("lost", "fd77::1", 7))
      got[3] = { c:receivefrom() } -- dropped: times out
    end)
    sim:run(3000)
    assert.are.same({}, log)
    assert.are.same({ "hello", "eight:redirect" }, { got[1], got[2] })
    assert.is_nil(got[3][1])
    assert.are.same({ dir = "out", family = 6, src = "fd77::2", sport = seen[1].sport, dport = 7, payload = "hello" },
      seen[1])
    assert.are.equal(0, a.stats().drop_udp_checksum)
    assert.is_true(b.stats().hook_dropped >= 1)
    assert.truthy(lines[1]:match("out IP6 fd77::2%.%d+ > fd77::1%.7: UDP, length 5"), lines[1])
  end)
end)

describe("trace and tseq over IPv6", function()
  it("print tcpdump's IP6 lines and record the connection", function()
    local sim, a, b = setup(16)
    echo_server(a)
    local lines = {}
    local rows = {}
    local w = trace.tseq_writer({ write = function(_, ...) rows[#rows + 1] = table.concat({ ... }) end })
    b.on_segment(trace.print_hook(nil, function(l) lines[#lines + 1] = l end))
    b.on_segment(trace.tseq_hook(w))
    assert.are.equal("ping", roundtrip(sim, b, "ping"))
    assert.truthy(lines[1]:match("^[%d.]+ out IP6 fd77::2%.%d+ > fd77::1%.7: Flags %[S%], seq %d+, win %d+, "
      .. "options %[mss 1440,"), lines[1])
    local data = 0
    for _, l in ipairs(lines) do if l:find("length 4", 1, true) then data = data + 1 end end
    assert.are.equal(2, data)
    assert.is_true(w.rows >= 5)
    assert.are.equal(1, w.nconns)
  end)
end)
