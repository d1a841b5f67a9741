-- The --tseq CSV writer (tcplua.trace) and scripts/tseq-plot. The CSV comes
-- from a small synthetic transfer: a NewReno-like sender pushing 300 KB
-- through an 8 Mbit/s bottleneck with 40 ms RTT; one segment is lost by a
-- fault, three duplicate ACKs (with SACK blocks) trigger a fast
-- retransmission, and the window halves and grows again.
local trace = require "tcplua.trace"

local MSS = 1000
local RWND = 120000

-- Runs the synthetic transfer, feeding a tseq writer. Returns what it did.
local function synthetic_transfer(w, opts)
  opts = opts or {}
  local total = opts.bytes or 300000
  local lose = opts.lose or { [60 * MSS] = true }  -- offsets lost once
  local ISS, IRS = 1000000, 5000000
  local half_rtt, per_byte = 20, 1 / 1000            -- ms; 1 ms per 1000 bytes
  local events, seqno = {}, 0
  local function at(t, fn)
    seqno = seqno + 1
    events[#events + 1] = { t = t, n = seqno, fn = fn }
  end
  local sent = { retrans = 0, lost = 0, dupacks = 0 }

  -- Sender
  local una, nxt, cwnd, ssthresh = 0, 0, 10 * MSS, 1e9
  local dup, recovering, recover = 0, false, 0
  local srtt, sent_at = nil, {}
  local link_free = 0 -- bottleneck queue: when it can take the next byte
  -- Receiver
  local rcv_nxt, ooo = 0, {}

  local function sack_blocks()
    local blocks = {}
    local starts = {}
    for s in pairs(ooo) do starts[#starts + 1] = s end
    table.sort(starts)
    for _, s in ipairs(starts) do
      local last = blocks[#blocks]
      if last and last[2] == s then last[2] = s + ooo[s] else blocks[#blocks + 1] = { s, s + ooo[s] } end
    end
    for _, b in ipairs(blocks) do b[1], b[2] = b[1] + ISS + 1, b[2] + ISS + 1 end
    return blocks
  end

  local on_ack

  local function transmit(now, off, retrans)
    local len = math.min(MSS, total - off)
    local marks = retrans and { "retrans" } or nil
    local dropped = lose[off] and not retrans
    if dropped then
      marks = { "drop" }
      sent.lost = sent.lost + 1
    end
    w:segment { t = now, dir = "out", seq = ISS + 1 + off, len = len, flags = "P.", ack = IRS + 1, win = 65535,
      marks = marks }
    if retrans then sent.retrans = sent.retrans + 1 end
    sent_at[off] = not retrans and now or false -- Karn: no RTT from retransmissions
    if dropped then return end
    local arrive = math.max(now + half_rtt, link_free) + len * per_byte
    link_free = arrive
    at(arrive, function(t)
      -- Receiver: in order, or held out of order with SACK (RFC 2018).
      if off == rcv_nxt then
        rcv_nxt = rcv_nxt + len
        while ooo[rcv_nxt] do
          local l = ooo[rcv_nxt]
          ooo[rcv_nxt] = nil
          rcv_nxt = rcv_nxt + l
        end
      elseif off > rcv_nxt then
        ooo[off] = len
      end
      local ack, blocks = rcv_nxt, sack_blocks()
      at(t + half_rtt, function(t2)
        w:segment { t = t2, dir = "in", seq = IRS + 1, len = 0, flags = ".", ack = ISS + 1 + ack, win = RWND,
          sack = blocks }
        on_ack(t2, ack)
      end)
    end)
  end

  local function send_more(now)
    local t = now
    while nxt < total and nxt - una + MSS <= math.min(cwnd, RWND) do
      transmit(t, nxt, false)
      nxt = nxt + math.min(MSS, total - nxt)
      t = t + 0.05
    end
  end

  local function sample(now)
    w:sample { t = now, cwnd = cwnd, ssthresh = ssthresh < 1e9 and ssthresh or nil, srtt = srtt,
      inflight = nxt - una }
  end

  on_ack = function(now, ack)
    if ack > una then
      if sent_at[ack - MSS] then
        local r = now - sent_at[ack - MSS]
        srtt = srtt and (0.875 * srtt + 0.125 * r) or r -- RFC 6298 2.3
      end
      una = ack
      dup = 0
      if recovering then
        if ack >= recover then
          recovering = false
          cwnd = ssthresh -- RFC 6582 3.2 step 3: deflate
        else
          transmit(now, una, true) -- partial ACK: next hole
        end
      elseif cwnd < ssthresh then
        cwnd = cwnd + MSS -- slow start (RFC 5681 3.1)
      else
        cwnd = cwnd + MSS * MSS / cwnd
      end
    elseif ack == una and nxt > una then
      dup = dup + 1
      sent.dupacks = sent.dupacks + 1
      if dup == 3 and not recovering then
        ssthresh = math.max((nxt - una) / 2, 2 * MSS) -- RFC 5681 (4)
        cwnd = ssthresh + 3 * MSS
        recovering, recover = true, nxt
        transmit(now, una, true)
      elseif recovering then
        cwnd = cwnd + MSS
      end
    end
    sample(now)
    send_more(now)
  end

  -- Handshake, then data.
  w:segment { t = 0, dir = "out", seq = ISS, len = 0, flags = "S", win = 65535,
    options = "\2\4\3\232\4\2\1\1" }
  w:segment { t = 40, dir = "in", seq = IRS, len = 0, flags = "S.", ack = ISS + 1, win = 65535 }
  w:segment { t = 40, dir = "out", seq = ISS + 1, len = 0, flags = ".", ack = IRS + 1, win = 65535 }
  sample(40)
  send_more(40)
  local steps = 0
  while #events > 0 do
    steps = steps + 1
    assert(steps < 100000, "synthetic transfer did not finish")
    table.sort(events, function(a, b)
      if a.t ~= b.t then return a.t > b.t end
      return a.n > b.n
    end)
    local e = table.remove(events)
    e.fn(e.t)
  end
  sent.una = una
  return sent
end

local function read_csv(path)
  local rows, header = {}, nil
  for line in io.lines(path) do
    local f = {}
    for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
    if not header then
      header = f
    else
      local r = {}
      for k, name in ipairs(header) do r[name] = f[k] end
      rows[#rows + 1] = r
    end
  end
  return header, rows
end

local function tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. suffix
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

describe("tseq CSV writer", function()
  local path
  before_each(function() path = tmp(".csv") end)
  after_each(function() os.remove(path) end)

  it("writes the documented header and relative sequence numbers", function()
    local w = assert(trace.tseq_writer(path))
    w:segment { t = 0, dir = "out", seq = 4294967000, len = 0, flags = "S", win = 65535 }
    w:segment { t = 1, dir = "in", seq = 77, len = 0, flags = "S.", ack = 4294967001, win = 29200 }
    w:segment { t = 1.5, dir = "out", seq = 4294967001, len = 1000, flags = "P.", ack = 78, win = 65535 }
    w:sample { t = 1.5, cwnd = 10000, srtt = 1.25 }
    w:close()
    local header, rows = read_csv(path)
    assert.same(trace.TSEQ_COLUMNS, header)
    assert.equal(4, #rows)
    assert.same({ "0", "1" }, { rows[1].seq, rows[1]["end"] })           -- SYN takes one
    assert.same({ "0", "1", "1" }, { rows[2].seq, rows[2]["end"], rows[2].ack })
    -- Data wraps past 2^32 and still counts from the ISN.
    assert.same({ "1", "1001", "1000" }, { rows[3].seq, rows[3]["end"], rows[3].len })
    assert.same({ "sample", "10000", "1.25", "" }, { rows[4].kind, rows[4].cwnd, rows[4].srtt_ms, rows[4].seq })
  end)

  it("scales win by the shift each side's SYN announced, only when both did (RFC 7323 2.2)", function()
    local w = assert(trace.tseq_writer(path))
    local A = { src = "10.0.0.1", sport = 40000, dst = "10.0.0.2", dport = 7 }
    local B = { src = "10.0.0.2", sport = 7, dst = "10.0.0.1", dport = 40000 }
    local function seg(base, f)
      for k, v in pairs(base) do f[k] = v end
      w:segment(f)
    end
    seg(A, { t = 0, dir = "in", seq = 100, flags = "S", win = 64240, options = { wscale = 10 } })
    seg(B, { t = 0, dir = "out", seq = 500, flags = "S.", ack = 101, win = 65535, options = { wscale = 7 } })
    seg(A, { t = 1, dir = "in", seq = 101, flags = ".", ack = 501, win = 63 })
    seg(B, { t = 1, dir = "out", seq = 501, len = 10, flags = "P.", ack = 101, win = 2048 })
    -- A second connection whose SYN-ACK has no window scale: no scaling.
    local C = { src = "10.0.0.1", sport = 40001, dst = "10.0.0.2", dport = 7 }
    local D = { src = "10.0.0.2", sport = 7, dst = "10.0.0.1", dport = 40001 }
    seg(C, { t = 2, dir = "in", seq = 9000, flags = "S", win = 64240, options = { wscale = 10 } })
    seg(D, { t = 2, dir = "out", seq = 7000, flags = "S.", ack = 9001, win = 65535, options = {} })
    seg(C, { t = 3, dir = "in", seq = 9001, flags = ".", ack = 7001, win = 63 })
    w:close()
    local _, rows = read_csv(path)
    assert.same({ "64240", "65535", "64512", "262144" }, { rows[1].win, rows[2].win, rows[3].win, rows[4].win })
    assert.same({ "1", "1", "1", "1", "2", "2", "2" },
      { rows[1].conn, rows[2].conn, rows[3].conn, rows[4].conn, rows[5].conn, rows[6].conn, rows[7].conn })
    -- Each connection counts from its own ISNs, and nothing is a retransmission.
    assert.same({ "0", "0", "1", "1" }, { rows[5].seq, rows[6].seq, rows[7].seq, rows[7].ack })
    assert.equal("63", rows[7].win)
    for _, r in ipairs(rows) do assert.equal("", r.marks) end
  end)

  it("marks retransmissions, out-of-order data, duplicate ACKs and zero windows", function()
    local w = assert(trace.tseq_writer(path))
    local function out(t, off, len) w:segment { t = t, dir = "out", seq = 101 + off, len = len, flags = "P.", ack = 1, win = 100 } end
    local function ack(t, a, win, sack)
      w:segment { t = t, dir = "in", seq = 1, len = 0, flags = ".", ack = 101 + a, win = win or 5000, sack = sack }
    end
    w:segment { t = 0, dir = "out", seq = 100, len = 0, flags = "S", win = 100 }
    w:segment { t = 1, dir = "in", seq = 0, len = 0, flags = "S.", ack = 101, win = 5000 }
    out(2, 0, 100); out(2, 100, 100); out(2, 200, 100)
    ack(3, 100); ack(3, 100, nil, { { 301, 401 } }); ack(3, 100, nil, { { 301, 501 } })
    out(4, 100, 100)              -- retransmission
    out(5, 500, 100)              -- leaves a hole: out of order
    ack(6, 300, 0)                -- zero window
    w:close()
    local _, rows = read_csv(path)
    local marks = {}
    for _, r in ipairs(rows) do marks[#marks + 1] = r.marks end
    assert.same({ "", "", "", "", "", "", "dupack", "dupack", "retrans", "ooo", "zerowin" }, marks)
    assert.equal("201-301", rows[7].sack)
    assert.equal("201-401", rows[8].sack)
  end)

  it("keeps the marks it is given and reads SACK blocks from raw options", function()
    local w = assert(trace.tseq_writer(path, { relative = false, infer = false }))
    local sack = "\1\1\5\10" .. "\0\0\0\200\0\0\1\44"
    w:segment { t = 1, dir = "in", seq = 1, len = 0, flags = ".", ack = 100, win = 10, options = sack, marks = "drop+delay" }
    w:close()
    local _, rows = read_csv(path)
    assert.equal("drop+delay", rows[1].marks)
    assert.equal("200-300", rows[1].sack)
    assert.equal("100", rows[1].ack)
  end)

  it("reports a path it cannot write", function()
    local w, err = trace.tseq_writer("/nonexistent-dir/x.csv")
    assert.is_nil(w)
    assert.matches("tseq: .*No such file", err)
  end)

  it("records a synthetic transfer with one loss and its repair", function()
    local w = assert(trace.tseq_writer(path))
    local r = synthetic_transfer(w)
    w:close()
    assert.equal(300000, r.una)
    assert.equal(1, r.lost)
    assert.is_true(r.retrans >= 1)
    local _, rows = read_csv(path)
    local retrans, dupack, drop = 0, 0, 0
    for _, row in ipairs(rows) do
      if row.marks:find("retrans") then retrans = retrans + 1 end
      if row.marks:find("dupack") then dupack = dupack + 1 end
      if row.marks:find("drop") then drop = drop + 1 end
    end
    assert.equal(r.retrans, retrans)
    assert.equal(r.dupacks, dupack)
    assert.equal(1, drop)
  end)
end)

describe("trace hooks", function()
  local fault = require "tcplua.fault"

  it("tseq_hook records segments, verdict marks and conn:info samples", function()
    local path = tmp(".csv")
    local w = assert(trace.tseq_writer(path))
    local f = fault.new(3)
    local conn = { info = function() return { cwnd = 14600, ssthresh = 65535, srtt = 20.5, unacked = 2920 } end }
    local hook = trace.tseq_hook(w, f.when({ payload = "lose me" }, f.loss(1)))
    assert.is_nil(hook({ seq = 1, len = 0, flags = "S", win = 100, sport = 1, dport = 2 }, "out", conn, 0))
    local v = hook({ seq = 2, len = 7, flags = "P.", ack = 9, win = 100, payload = "lose me" }, "out", conn, 1)
    assert.is_true(v.drop)
    w:close()
    local _, rows = read_csv(path)
    os.remove(path)
    assert.equal(4, #rows)
    assert.equal("drop", rows[3].marks)
    assert.same({ "sample", "14600", "20.5", "2920" }, { rows[4].kind, rows[4].cwnd, rows[4].srtt_ms, rows[4].inflight })
  end)

  it("print_hook prints one line per segment with time, state and verdict", function()
    local lines = {}
    local hook = trace.print_hook(function() return { delay = 5, fault = "delay" } end,
      function(l) lines[#lines + 1] = l end)
    local conn = { state = function() return "ESTABLISHED" end }
    local v = hook({ src = "10.77.0.1", dst = "10.77.0.2", sport = 1, dport = 7, seq = 10, ack = 3, flags = "P.",
      win = 9, len = 2 }, "in", conn, 1.5)
    assert.equal(5, v.delay)
    assert.same({ "1.500 in 10.77.0.1.1 > 10.77.0.2.7: Flags [P.], seq 10:12, ack 3, win 9, length 2 "
      .. "ESTABLISHED [fault: delay (delayed 5.000 ms)]" }, lines)
  end)

  it("timeseq says so when the connection has no segment hooks yet", function()
    local w, err = trace.timeseq({}, "/tmp/never.csv")
    assert.is_nil(w)
    assert.matches("on_segment", err)
  end)
end)

describe("trace.format", function()
  it("prints a tcpdump-like line with options, state and verdict", function()
    local syn = { src = "10.77.0.1", dst = "10.77.0.2", sport = 40000, dport = 7, seq = 100, ack = 0, flags = "S",
      win = 64240, len = 0, options = "\2\4\5\180\4\2\8\10\0\0\0\1\0\0\0\0\1\3\3\7" }
    assert.equal("in 10.77.0.1.40000 > 10.77.0.2.7: Flags [S], seq 100, win 64240, "
      .. "options [mss 1460,sackOK,TS val 1 ecr 0,wscale 7], length 0 LISTEN", trace.format(syn, "in", "LISTEN"))
    local data = { src = "10.77.0.2", dst = "10.77.0.1", sport = 7, dport = 40000, seq = 1, ack = 6, flags = "P.",
      win = 512, len = 5, t = 12.5 }
    assert.equal("12.500 out 10.77.0.2.7 > 10.77.0.1.40000: Flags [P.], seq 1:6, ack 6, win 512, length 5 "
      .. "ESTABLISHED [dropped by fault: loss]", trace.format(data, "out", 4, { drop = true, fault = "loss" }))
    data.t = nil
    assert.matches("%[dropped by hook%]$", trace.format(data, "out", nil, "drop"))
    assert.matches("length 5$", trace.format(data, "out", nil, "pass"))
  end)

  it("survives malformed options", function()
    local seg = { src = "a", dst = "b", sport = 1, dport = 2, seq = 1, flags = "S", len = 0, options = "\2\9\1" }
    assert.matches("options %[malformed%]", trace.format(seg, "in"))
  end)
end)

describe("scripts/tseq-plot", function()
  local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0 end

  it("draws the time-sequence graph of a transfer with a loss to a PNG", function()
    if not have("gnuplot") then
      pending("gnuplot not installed (apt-get install gnuplot-nox)")
      return
    end
    local csv, png = tmp(".csv"), tmp(".png")
    local w = assert(trace.tseq_writer(csv))
    synthetic_transfer(w)
    w:close()
    local keep = os.getenv("TSEQ_KEEP") -- set to a path to look at the picture
    if keep and keep ~= "" then png = keep end
    local ok = os.execute("scripts/tseq-plot " .. csv .. " " .. png .. " >/dev/null 2>&1")
    assert.equal(0, ok)
    local f = assert(io.open(png, "rb"))
    local head = f:read(8)
    f:close()
    assert.equal("\137PNG\r\n\26\n", head)
    assert.is_true(file_size(png) > 10000, "PNG is " .. file_size(png) .. " bytes")
    os.remove(csv)
    if png ~= keep then os.remove(png) end
  end)

  it("takes options after the files and draws one connection with --conn", function()
    if not have("gnuplot") then
      pending("gnuplot not installed (apt-get install gnuplot-nox)")
      return
    end
    local csv, png = tmp(".csv"), tmp(".png")
    local w = assert(trace.tseq_writer(csv))
    synthetic_transfer(w)
    w:close()
    local out = io.popen("scripts/tseq-plot " .. csv .. " " .. png .. " --dir out --conn 1 --title one 2>&1; echo rc=$?"):read("*a")
    assert.matches("rc=0", out)
    assert.is_true(file_size(png) > 10000)
    out = io.popen("scripts/tseq-plot " .. csv .. " --conn 2 " .. png .. " 2>&1; echo rc=$?"):read("*a")
    assert.matches("no segments with data in .* %(connection 2%)", out)
    assert.matches("rc=1", out)
    out = io.popen("scripts/tseq-plot " .. csv .. " " .. png .. " --conn x 2>&1; echo rc=$?"):read("*a")
    assert.matches("%-%-conn must be a connection number", out)
    os.remove(csv)
    os.remove(png)
  end)

  it("fails with a clear message on a missing or empty file", function()
    local h = io.popen("scripts/tseq-plot /nonexistent.csv /tmp/x.png 2>&1; echo rc=$?")
    local out = h:read("*a")
    h:close()
    assert.matches("tseq%-plot: ", out)
    assert.not_matches("rc=0", out)
    local empty = tmp(".csv")
    local w = assert(trace.tseq_writer(empty))
    w:close()
    h = io.popen("scripts/tseq-plot " .. empty .. " /tmp/x.png 2>&1; echo rc=$?")
    out = h:read("*a")
    h:close()
    os.remove(empty)
    assert.matches("no segments", out)
    assert.not_matches("rc=0", out)
  end)
end)
