-- The fault library, checked statistically over synthetic segments with
-- fixed seeds. Tolerances are several standard deviations wide: a fixed
-- seed makes each result exact, the width keeps the test honest about what
-- it checks (the rate, not one lucky draw).
local fault = require "tcplua.fault"

local N = 10000

-- A one-way data flow: `n` segments of `len` bytes, one every `gap_ms`.
local function flow(n, len, gap_ms, over)
  local t = {}
  for i = 1, n do
    local s = {
      src = "10.77.0.1", dst = "10.77.0.2", sport = 40000, dport = 80,
      seq = (1000 + (i - 1) * len) % 4294967296, ack = 1, flags = "P.", win = 65535,
      len = len, payload = nil, t = (i - 1) * gap_ms, i = i,
    }
    if over then for k, v in pairs(over) do s[k] = v end end
    t[i] = s
  end
  return t
end

-- Runs a policy over a flow on a virtual clock; returns the delivered
-- segments in arrival order (each with .arrive) and the verdicts.
local function run(policy, segs, dir)
  local out, verdicts = {}, {}
  for _, s in ipairs(segs) do
    local v = fault.normalize(policy(s, dir or "out", nil, s.t))
    verdicts[#verdicts + 1] = v or false
    if not (v and v.drop) then
      local seg = (v and v.segment) or s
      local at = s.t + (v and v.delay or 0)
      for _ = 0, (v and v.duplicate or 0) do
        out[#out + 1] = { seg = seg, arrive = at, sent = s.i, corrupt = v and v.corrupt }
      end
    end
  end
  -- Stable sort by arrival: ties keep sending order, as a FIFO link would.
  for k, o in ipairs(out) do o.k = k end
  table.sort(out, function(a, b)
    if a.arrive ~= b.arrive then return a.arrive < b.arrive end
    return a.k < b.k
  end)
  return out, verdicts
end

local function count(verdicts, pred)
  local n = 0
  for _, v in ipairs(verdicts) do if v and pred(v) then n = n + 1 end end
  return n
end

local function near(x, want, tol, what)
  assert(math.abs(x - want) <= tol,
    string.format("%s: got %.5g, want %.5g +- %.3g", what or "value", x, want, tol))
end

describe("fault PRNG", function()
  it("repeats per seed and differs across seeds", function()
    local a, b, c = fault.rng(42), fault.rng(42), fault.rng(43)
    local same, differ = true, false
    for _ = 1, 100 do
      local x, y, z = a:next(), b:next(), c:next()
      if x ~= y then same = false end
      if x ~= z then differ = true end
    end
    assert.is_true(same)
    assert.is_true(differ)
  end)

  it("draws uniform values in [0, 1) with the right mean", function()
    local r, sum = fault.rng(7), 0
    for _ = 1, N do
      local u = r:unit()
      assert.is_true(u >= 0 and u < 1)
      sum = sum + u
    end
    near(sum / N, 0.5, 0.02, "mean of unit()")
  end)

  it("leaves math.random alone", function()
    math.randomseed(99)
    local want = { math.random(), math.random() }
    math.randomseed(99)
    local f = fault.new(1)
    local p = f.loss(0.5)
    for _ = 1, 100 do p({ len = 1 }, "in") end
    assert.same(want, { math.random(), math.random() })
  end)
end)

describe("fault primitives", function()
  local f
  before_each(function() f = fault.new(12345) end)

  it("loss(0.1) drops 10% and counts each drop", function()
    local out, v = run(f.loss(0.1), flow(N, 100, 1))
    local dropped = count(v, function(x) return x.drop end)
    near(dropped / N, 0.1, 0.015, "loss rate")
    assert.equal(N - dropped, #out)
    assert.equal(dropped, f.stats().loss)
    assert.equal("loss", (v[1] or v[2] or v[3] or {}).fault or "loss")
  end)

  it("loss(0) and loss(1) are exact", function()
    local _, v0 = run(f.loss(0), flow(1000, 100, 1))
    local _, v1 = run(f.loss(1), flow(1000, 100, 1))
    assert.equal(0, count(v0, function(x) return x.drop end))
    assert.equal(1000, count(v1, function(x) return x.drop end))
  end)

  it("rejects a probability outside [0, 1]", function()
    assert.has_error(function() f.loss(1.5) end)
    assert.has_error(function() f.duplicate(-0.1) end)
  end)

  it("burst_loss (Gilbert-Elliott) loses in bursts at the stationary rate", function()
    local p, r = 0.01, 0.3
    local _, v = run(f.burst_loss(p, r), flow(N * 5, 100, 1))
    local lost, bursts, run_len, runs = 0, 0, 0, {}
    for _, x in ipairs(v) do
      if x and x.drop then
        lost = lost + 1
        run_len = run_len + 1
      elseif run_len > 0 then
        bursts = bursts + 1
        runs[#runs + 1] = run_len
        run_len = 0
      end
    end
    near(lost / (N * 5), p / (p + r), 0.012, "gemodel loss rate")
    -- Mean burst length in the bad state is 1/r.
    near(lost / bursts, 1 / r, 0.6, "mean burst length")
    -- Bernoulli loss at the same rate has bursts of about 1.
    local g = fault.new(1)
    local _, vb = run(g.loss(p / (p + r)), flow(N * 5, 100, 1))
    local lb, bb, prev = 0, 0, false
    for _, x in ipairs(vb) do
      local d = x and x.drop or false
      if d then lb = lb + 1 end
      if d and not prev then bb = bb + 1 end
      prev = d
    end
    assert.is_true(lb / bb < 1.2, "bernoulli bursts " .. lb / bb)
    assert.equal(lost, f.stats().burst_loss)
  end)

  it("burst_loss with loss in the good state loses there too", function()
    local _, v = run(f.burst_loss(0.0, 1, 1, 0.05), flow(N, 100, 1))
    near(count(v, function(x) return x.drop end) / N, 0.05, 0.012, "good-state loss")
  end)

  it("delay with uniform jitter stays within bounds around the mean", function()
    local _, v = run(f.delay(50, 10, "uniform"), flow(N, 100, 1))
    local sum, lo, hi = 0, math.huge, 0
    for _, x in ipairs(v) do
      sum = sum + x.delay
      lo, hi = math.min(lo, x.delay), math.max(hi, x.delay)
    end
    assert.is_true(lo >= 40 and hi <= 60, lo .. ".." .. hi)
    near(sum / N, 50, 0.5, "mean delay")
    assert.equal(N, f.stats().delay)
  end)

  it("delay with normal jitter has the asked mean and deviation", function()
    local _, v = run(f.delay(100, 10, "normal"), flow(N, 100, 1))
    local sum, sq = 0, 0
    for _, x in ipairs(v) do
      sum = sum + x.delay
      sq = sq + x.delay * x.delay
    end
    local mean = sum / N
    near(mean, 100, 0.6, "mean")
    near(math.sqrt(sq / N - mean * mean), 10, 0.6, "standard deviation")
  end)

  it("delay with pareto jitter has a heavy tail above the base", function()
    local _, v = run(f.delay(20, 5, "pareto"), flow(N, 100, 1))
    local sum, lo, hi = 0, math.huge, 0
    for _, x in ipairs(v) do
      sum = sum + x.delay
      lo, hi = math.min(lo, x.delay), math.max(hi, x.delay)
    end
    assert.is_true(lo >= 20)
    near(sum / N, 25, 0.6, "mean")
    assert.is_true(hi > 20 + 5 * 5, "tail reaches " .. hi)
  end)

  it("delay rejects an unknown distribution", function()
    assert.has_error(function() f.delay(10, 1, "cauchy") end)
  end)

  it("reorder holds back a fraction so later segments overtake it", function()
    local out, v = run(f.reorder(0.1, 5), flow(N, 100, 1))
    local held = count(v, function(x) return x.delay end)
    near(held / N, 0.1, 0.015, "held fraction")
    -- Count arrivals that come after a segment sent later.
    local late, maxsent = 0, 0
    for _, o in ipairs(out) do
      if o.sent < maxsent then late = late + 1 end
      maxsent = math.max(maxsent, o.sent)
    end
    assert.is_true(late > 0.08 * N, "out-of-order arrivals: " .. late)
    assert.equal(N, #out)
  end)

  it("duplicate(0.05) sends 5% twice", function()
    local out, v = run(f.duplicate(0.05), flow(N, 100, 1))
    local d = count(v, function(x) return x.duplicate end)
    near(d / N, 0.05, 0.01, "duplicate rate")
    assert.equal(N + d, #out)
  end)

  it("corrupt(0.02) marks 2% corrupt", function()
    local _, v = run(f.corrupt(0.02), flow(N, 100, 1))
    near(count(v, function(x) return x.corrupt end) / N, 0.02, 0.007, "corrupt rate")
    assert.equal(count(v, function(x) return x.corrupt end), f.stats().corrupt)
  end)

  it("rate holds the long-run rate and keeps order (virtual time)", function()
    -- 1040-byte datagrams offered at 8.3 Mbit/s into a 1 Mbit/s bucket.
    local out = run(f.rate(1e6, 3000), flow(2000, 1000, 1))
    local first, last, bytes = out[1].arrive, out[#out].arrive, 0
    for k, o in ipairs(out) do
      assert.equal(k, o.sent) -- FIFO: a shaper never reorders
      if k > 1 then bytes = bytes + 1040 end
    end
    near(bytes * 8 / ((last - first) / 1000), 1e6, 2e4, "bits per second")
  end)

  it("rate lets traffic under the rate through undelayed", function()
    -- 1040 bytes every 10 ms is 832 kbit/s, under 1 Mbit/s.
    local _, v = run(f.rate(1e6, 1500), flow(1000, 1000, 10))
    assert.equal(0, count(v, function(x) return x.delay or x.drop end))
  end)

  it("rate with limit_ms drops what would wait too long", function()
    local out, v = run(f.rate(1e6, 1500, { limit_ms = 50 }), flow(1000, 1000, 1))
    local dropped = count(v, function(x) return x.drop end)
    assert.is_true(dropped > 800, "dropped " .. dropped)
    for _, o in ipairs(out) do assert.is_true(o.arrive - (o.sent - 1) <= 50 + 1e-9) end
  end)

  it("size_limit is an MTU black hole", function()
    local p = f.size_limit(1400)
    assert.is_nil(p({ len = 1360 }, "out"))  -- 1400 on the wire
    assert.is_true(fault.normalize(p({ len = 1361 }, "out")).drop)
    assert.is_true(fault.normalize(p({ len = 1000, size = 1500 }, "out")).drop)
    assert.equal(2, f.stats().size_limit)
  end)

  it("drop_first(n) drops exactly the first n", function()
    local _, v = run(f.drop_first(3), flow(10, 0, 1, { flags = "S" }))
    assert.same({ true, true, true, false }, {
      v[1] and v[1].drop, v[2] and v[2].drop, v[3] and v[3].drop, v[4] and v[4].drop or false })
    assert.equal(3, count(v, function(x) return x.drop end))
  end)

  it("drop_first per connection counts each connection apart", function()
    local p = f.drop_first(1, { per_conn = true })
    local a, b = {}, {}
    assert.is_true(p({ seq = 1, len = 0 }, "out", a).drop)
    assert.is_true(p({ seq = 1, len = 0 }, "out", b).drop)
    assert.is_nil(p({ seq = 1, len = 0 }, "out", a))
  end)

  it("scopes: rate and drop_first keep state per connection and direction unless per = \"shared\"", function()
    local A = { src = "10.0.0.1", sport = 1000, dst = "10.0.0.2", dport = 80, seq = 1, len = 1460 }
    local B = { src = "10.0.0.1", sport = 1001, dst = "10.0.0.2", dport = 80, seq = 1, len = 1460 }
    -- A 1500-byte bucket: one full segment each, per connection; shared, the second waits.
    local per, shared = f.rate(1e6), f.rate(1e6, { per = "shared" })
    assert.is_nil(per(A, "out", nil, 0))
    assert.is_nil(per(B, "out", nil, 0))
    assert.is_nil(shared(A, "out", nil, 0))
    assert.truthy(fault.normalize(shared(B, "out", nil, 0)).delay)
    -- drop_first(1): the first of each connection and direction by default.
    local d = f.drop_first(1)
    assert.is_true(d(A, "out").drop)
    assert.is_true(d(B, "out").drop)
    assert.is_true(d(A, "in").drop)
    assert.is_nil(d(A, "out"))
    local g = f.drop_first(1, { per = "shared" })
    assert.is_true(g(A, "out").drop)
    assert.is_nil(g(B, "out"))
    assert.has_error(function() f.rate(1e6, { per = "link" }) end, "fault.rate: per must be \"connection\" or \"shared\"")
  end)

  it("reset_after resets both ways: the segment becomes a RST, and one goes back to its sender", function()
    local p = f.reset_after { bytes = 100 }
    local seg = { src = "10.0.0.1", sport = 7, dst = "10.0.0.2", dport = 40000, seq = 1001, ack = 5001,
      flags = "P.", len = 200 }
    local v = fault.normalize(p(seg, "out", nil, 0))
    assert.equal("R.", v.segment.flags)
    assert.same({ "10.0.0.1", 7, 1001 }, { v.segment.src, v.segment.sport, v.segment.seq })
    -- back to the sender: from its peer, at the sequence number it acknowledged
    assert.same({ "10.0.0.2", 40000, "10.0.0.1", 7, 5001, 1201, "R." },
      { v.reverse.src, v.reverse.sport, v.reverse.dst, v.reverse.dport, v.reverse.seq, v.reverse.ack, v.reverse.flags })
  end)

  it("stall_after lets exactly n bytes through, then nothing", function()
    local out = run(f.stall_after(1000), flow(30, 100, 1))
    assert.equal(10, #out)
    -- A retransmission of delivered data is stalled too: the pipe is dead.
    local p = f.stall_after(1000)
    for _, s in ipairs(flow(11, 100, 1)) do p(s, "out", nil, s.t) end
    assert.is_true(fault.normalize(p(flow(1, 100, 1)[1], "out", nil, 20)).drop)
  end)

  it("stall_after with timeout_ms ends in a RST", function()
    local p = f.stall_after(200, { timeout_ms = 30 })
    local got
    for _, s in ipairs(flow(100, 100, 1)) do
      local v = fault.normalize(p(s, "out", nil, s.t))
      if v and v.segment then
        got = s
        assert.equal("R.", v.segment.flags)
        assert.equal(0, v.segment.len)
        break
      end
    end
    assert.is_truthy(got)
    assert.equal(32, got.t) -- stalled at segment 3 (t=2), RST 30 ms later
  end)

  it("reset_after{bytes} replaces the segment past the limit with a RST", function()
    local out, v = run(f.reset_after { bytes = 500 }, flow(10, 100, 1))
    assert.equal(6, #out)
    assert.equal("R.", out[6].seg.flags)
    assert.equal(1500, out[6].seg.seq) -- the RST sits where the data would
    assert.equal(4, count(v, function(x) return x.drop end))
    assert.equal(1, f.stats().reset)
    assert.equal(4, f.stats().reset_drop)
  end)

  it("reset_after{ms} resets the first segment after the time", function()
    local out = run(f.reset_after { ms = 50 }, flow(100, 100, 1))
    assert.equal(51, #out)
    assert.equal("R.", out[51].seg.flags)
  end)

  it("slice splits outgoing segments only", function()
    local p = f.slice(500)
    local s = flow(1, 1200, 1, { payload = string.rep("a", 500) .. string.rep("b", 500) .. string.rep("c", 200) })[1]
    assert.equal(500, fault.normalize(p(s, "out")).slice)
    assert.is_nil(p(s, "in"))
    assert.is_nil(p(flow(1, 400, 1)[1], "out"))
    local pieces = fault.split(s, 500)
    assert.equal(3, #pieces)
    assert.same({ 1000, 1500, 2000 }, { pieces[1].seq, pieces[2].seq, pieces[3].seq })
    assert.same({ 500, 500, 200 }, { pieces[1].len, pieces[2].len, pieces[3].len })
    assert.equal(s.payload, pieces[1].payload .. pieces[2].payload .. pieces[3].payload)
    assert.same({ ".", ".", "P." }, { pieces[1].flags, pieces[2].flags, pieces[3].flags })
  end)
end)

describe("fault selectors", function()
  local f
  before_each(function() f = fault.new(5) end)

  it("when{flags = 'S'} drops only SYNs", function()
    local p = f.when({ flags = "S" }, f.loss(1))
    assert.is_true(fault.normalize(p({ flags = "S", len = 0 }, "in")).drop)
    assert.is_true(fault.normalize(p({ flags = "S.", len = 0 }, "in")).drop)
    assert.is_nil(p({ flags = ".", len = 0 }, "in"))
    assert.is_nil(p({ flags = "P.", len = 10 }, "in"))
  end)

  it("when on payload content", function()
    local p = f.when({ payload = "GET /secret" }, f.loss(1))
    assert.is_nil(p({ payload = "GET / HTTP/1.0", len = 14 }, "in"))
    assert.is_true(p({ payload = "GET /secret HTTP/1.0", len = 20 }, "in").drop)
  end)

  it("when with a function sees the state it is given", function()
    local p = f.when(function(seg, _, conn) return conn.state == "ESTABLISHED" and seg.len > 0 end, f.loss(1))
    assert.is_nil(p({ len = 10 }, "in", { state = "SYN_RECEIVED" }))
    assert.is_true(p({ len = 10 }, "in", { state = "ESTABLISHED" }).drop)
  end)

  it("inbound and outbound pick a direction", function()
    local pin, pout = f.inbound(f.loss(1)), f.outbound(f.loss(1))
    assert.is_truthy(pin({ len = 1 }, "in"))
    assert.is_nil(pin({ len = 1 }, "out"))
    assert.is_truthy(pout({ len = 1 }, "out"))
    assert.is_nil(pout({ len = 1 }, "in"))
  end)

  it("port matches either side", function()
    local p = f.port(80, f.loss(1))
    assert.is_truthy(p({ sport = 40000, dport = 80, len = 1 }, "in"))
    assert.is_truthy(p({ sport = 80, dport = 40000, len = 1 }, "out"))
    assert.is_nil(p({ sport = 40000, dport = 7, len = 1 }, "in"))
  end)

  it("conn picks one connection, by object or by 4-tuple in both directions", function()
    local c1, c2 = {}, {}
    local p = f.conn(c1, f.loss(1))
    assert.is_truthy(p({ len = 1 }, "in", c1))
    assert.is_nil(p({ len = 1 }, "in", c2))
    local q = f.conn({ src = "10.77.0.1", sport = 40000 }, f.loss(1))
    assert.is_truthy(q({ src = "10.77.0.1", sport = 40000, dst = "10.77.0.2", dport = 7, len = 1 }, "in"))
    assert.is_truthy(q({ src = "10.77.0.2", sport = 7, dst = "10.77.0.1", dport = 40000, len = 1 }, "out"))
    assert.is_nil(q({ src = "10.77.0.1", sport = 40001, dst = "10.77.0.2", dport = 7, len = 1 }, "in"))
  end)

  it("toxicity picks whole connections with probability p", function()
    local p = f.toxicity(0.3, f.loss(1))
    local hit = 0
    for i = 1, 2000 do
      local conn = {}
      local first = p({ len = 1, sport = i }, "in", conn) ~= nil
      -- Every later segment of the connection shares the first one's fate.
      for _ = 1, 3 do assert.equal(first, p({ len = 1, sport = i }, "out", conn) ~= nil) end
      if first then hit = hit + 1 end
    end
    near(hit / 2000, 0.3, 0.05, "connections hit")
  end)

  it("between limits a fault to a time window", function()
    local out = run(f.between(100, 200, f.loss(1)), flow(300, 10, 1))
    assert.equal(200, #out)
  end)
end)

describe("fault.compose", function()
  it("adds delays and duplicates and names every fault", function()
    local f = fault.new(1)
    local p = f.compose(f.delay(10), f.delay(5), f.duplicate(1))
    local v = fault.normalize(p({ len = 1 }, "out", nil, 0))
    assert.equal(15, v.delay)
    assert.equal(1, v.duplicate)
    assert.equal("delay+delay+duplicate", v.fault)
  end)

  it("stops at a drop", function()
    local f = fault.new(1)
    local later = 0
    local p = f.compose(f.loss(1), function() later = later + 1 end)
    assert.is_true(fault.normalize(p({ len = 1 }, "out")).drop)
    assert.equal(0, later)
  end)

  it("passes a replacement segment to the policies after it", function()
    local f = fault.new(1)
    local seen
    local p = f.compose(f.reset_after(0), function(seg) seen = seg.flags end)
    local v = fault.normalize(p({ seq = 1, len = 10, flags = "P.", sport = 1, dport = 2 }, "out"))
    assert.equal("R.", v.segment.flags)
    assert.equal("R.", seen)
  end)

  it("returns nothing when nothing applies, and keeps a lone verdict as is", function()
    local f = fault.new(1)
    assert.is_nil(f.compose(f.loss(0), f.duplicate(0))({ len = 1 }, "in"))
    local only = f.compose(function() return "corrupt" end, f.loss(0))
    assert.equal("corrupt", only({ len = 1 }, "in"))
  end)

  it("same seed, same faults; another seed, other faults", function()
    local function trace(seed)
      local f = fault.new(seed)
      local p = f.compose(f.loss(0.05), f.burst_loss(0.02, 0.4), f.delay(20, 5, "normal"),
        f.reorder(0.05, 3), f.duplicate(0.02), f.corrupt(0.01))
      local t = {}
      for _, s in ipairs(flow(2000, 100, 1)) do
        local v = fault.normalize(p(s, "out", nil, s.t))
        t[#t + 1] = v and string.format("%s/%s/%.6f/%s/%s", tostring(v.drop), tostring(v.fault),
          v.delay or 0, tostring(v.duplicate), tostring(v.corrupt)) or "-"
      end
      return table.concat(t, ",")
    end
    assert.equal(trace(77), trace(77))
    assert.not_equal(trace(77), trace(78))
  end)

  it("fault.seed reseeds the module instance", function()
    local function draws()
      fault.seed(31)
      local p = fault.loss(0.5)
      local t = {}
      for i = 1, 64 do t[i] = p({ len = 1 }, "in") and 1 or 0 end
      return table.concat(t)
    end
    assert.equal(draws(), draws())
  end)
end)

describe("fault verdicts and views", function()
  it("normalize maps every verdict shape to the table form", function()
    assert.is_nil(fault.normalize(nil))
    assert.is_nil(fault.normalize("pass"))
    assert.same({ drop = true }, fault.normalize("drop"))
    assert.same({ corrupt = true }, fault.normalize("corrupt"))
    assert.same({ delay = 5 }, fault.normalize({ delay = 5 }))
    local seg = { seq = 1, sport = 2, dport = 3 }
    assert.equal(seg, fault.normalize(seg).segment)
    assert.has_error(function() fault.normalize("explode") end)
  end)

  it("works on an FFI struct view as on a table", function()
    local ffi = require "ffi"
    ffi.cdef [[ typedef struct fault_spec_seg { uint32_t seq; uint16_t sport, dport; uint16_t len; uint8_t bits; } fault_spec_seg; ]]
    local seg = ffi.new("fault_spec_seg", { seq = 5, sport = 1, dport = 80, len = 100, bits = 0x12 })
    local f = fault.new(1)
    assert.is_true(fault.has_flag(seg, "S."))
    assert.is_truthy(f.when({ flags = "S" }, f.loss(1))(seg, "in"))
    assert.is_truthy(f.port(80, f.size_limit(100))(seg, "in"))
    assert.equal("S.", fault.flag_string(fault.flag_bits(seg)))
  end)
end)
