-- The sim link's impairment driven by tc-netem words (sim:impair(from,
-- "...")): real TCP between two stacks through the 4-state loss model,
-- correlated delay and a rate with ATM-like cell overhead (virtual time,
-- fixed seeds).
local pattern_bytes = require("helpers.tcpsim").bytes

-- b sends size bytes to a over a link impaired as netem says (both ways,
-- or only b's packets when one_way); returns what a got, the virtual ms
-- from connect to the last byte, b's and a's stats and the error log.
local function send_through(netem, opts)
  opts = opts or {}
  local log = {}
  local sim = require("tcplua.sim").new { seed = opts.seed or 5, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1" }
  local b = sim:stack { addr = "10.0.0.2" }
  sim:impair(opts.one_way and b or nil, netem)
  local data = pattern_bytes(opts.size or 300000, opts.seed or 5)
  local got, t0, t1
  a.listen(7, function(c)
    got = c:receive("*a")
    t1 = sim:now()
  end)
  b.spawn(function()
    local c = assert(b.connect("10.0.0.1", 7))
    t0 = sim:now()
    assert(c:send(data))
    c:close()
  end)
  assert.is_true(sim:run_until(function() return got ~= nil end, opts.max_ms or 600000), "transfer did not finish")
  return data, got, t1 - t0, b.stats(), a.stats(), log
end

describe("sim link with netem words", function()
  it("4-state loss both ways: byte-exact, repaired by retransmission", function()
    local data, got, _, bs, as, log = send_through("loss state 2% 30% 20% 40% 1%")
    assert.are.equal(#data, #got)
    assert.is_true(data == got, "bytes differ")
    assert.are.same({}, log)
    assert.is_true(bs.tcp_retrans_segs > 0, "no retransmissions")
    -- a's out-of-order queue saw the holes
    assert.is_true(as.tcp_ooo_segs > 0, "no out-of-order segments at the receiver")
  end)

  it("correlated normal delay and correlated loss: byte-exact", function()
    local data, got, _, _, _, log = send_through("delay 10ms 3ms 50% distribution normal loss 2% 50%")
    assert.is_true(data == got, "bytes differ")
    assert.are.same({}, log)
  end)

  it("rate with cell overhead slows the goodput by the cells' share", function()
    -- 1 Mbit/s on b's packets; 1500-byte datagrams plus 40 bytes of framing
    -- in 48-byte cells of 53 bytes: 33 cells, 1749 bytes on the wire.
    local size = 200000
    local _, got, plain = send_through("rate 1mbit", { one_way = true, size = size })
    assert.are.equal(size, #got)
    local _, got2, cells = send_through("rate 1mbit 40 48 5", { one_way = true, size = size })
    assert.are.equal(size, #got2)
    -- the wire time grows by 1749/1500 for full-size packets
    local ratio = cells / plain
    assert.is_true(math.abs(ratio - 1749 / 1500) < 0.05, ("slowed by %.3f, want %.3f"):format(ratio, 1749 / 1500))
    -- and the goodput of the plain rate is near the rate (1448 payload of 1500)
    local goodput = size * 8 / (plain / 1000)
    assert.is_true(goodput > 0.85e6 and goodput < 1e6, "goodput " .. goodput)
  end)

  it("slot pacing: byte-exact, and slower than the link without it", function()
    local data, got, slotted = send_through("slot 20ms packets 8", { one_way = true, size = 100000 })
    assert.is_true(data == got, "bytes differ")
    local _, _, free = send_through("delay 0ms", { one_way = true, size = 100000 })
    -- 100 KB in full segments is about 70 packets: at 8 per 20 ms slot, at least 160 ms
    assert.is_true(slotted >= 160 and slotted > 2 * free, ("slotted %d ms, free %d ms"):format(slotted, free))
  end)

  it("rejects bad netem words, naming them", function()
    local sim = require("tcplua.sim").new { seed = 1 }
    local ok, err = pcall(sim.impair, sim, nil, "loss state")
    assert.is_false(ok)
    assert.matches("sim:impair: .*missing", err)
    ok, err = pcall(sim.impair, sim, nil, { delay_dist = "cauchy" })
    assert.is_false(ok)
    assert.matches("cauchy", err)
  end)
end)
