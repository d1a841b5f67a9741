-- Interop under impairment: a kernel peer in namespace B and tcplua behind a
-- router namespace A whose nftables rules drop or duplicate data packets on
-- their way in (helpers/lossnet.lua), plus tcplua's own --reorder and
-- --duplicate. Every transfer is checked byte for byte (SHA-256 or cmp of
-- what the application on the other side read), and each spec says HOW
-- the loss was repaired: tcplua's per-transfer counter deltas
-- (spec/tun/scripts/loss_peer.lua prints them; a counter this build lacks,
-- e.g. a RACK or TLP one, counts as 0) and the kernel's own (nstat in B).
-- Needs root (pending otherwise); about 60 s.
local interop = require "helpers.interop"
local lossnet = require "helpers.lossnet"
local netns = require "helpers.netns"

local STACK = lossnet.STACK
local PEER = "spec/tun/scripts/loss_peer.lua"
local MB = 1024 * 1024

-- Namespaces A (tcplua running loss_peer.lua on a random file of `size`
-- bytes, with `args`) and B, veth offloads `offload`; finally() deletes
-- both. Returns nil when interop specs cannot run here (pending).
-- (busted keeps one finally per test, hence both deletions in one.)
local function world(finally, pending, args, size, offload)
  local ok, why = netns.available()
  if not ok then
    pending(why)
    return nil
  end
  local ns = netns.new()
  local net
  finally(function()
    if net then net:delete() end
    ns:delete()
  end)
  net = lossnet.new(ns)
  net:offloads(offload)
  interop.random_file(ns, "data", size)
  local a = { "--offload", offload }
  for _, x in ipairs(args or {}) do a[#a + 1] = x end
  interop.start(ns, a, PEER, { ns.tmp .. "/data", ns.tmp })
  return ns, net
end

-- loss_peer.lua's line for transfer n on port as a table; d_* counters it
-- did not print (did not move, or do not exist in this build) read as 0.
local function done_line(ns, port, n, timeout_ms)
  local pat = "done port=" .. port .. " n=" .. n .. " [^\n]*"
  local line = interop.wait_stdout(ns, pat, timeout_ms or 15000)
  assert(line, ("no 'done port=%d n=%d' line from tcplua; stdout: %s stderr: %s"):format(port, n,
    interop.stdout(ns), interop.stderr(ns)))
  local t = setmetatable({ line = line }, { __index = function(_, k) if k:match("^d_") then return 0 end end })
  for k, v in line:gmatch("([%w_]+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

-- Deltas of every tcplua counter whose name mentions fast retransmit,
-- RACK or TLP: the recoveries that are not a retransmission timeout
-- (counted by name, so counters a build adds or lacks need no change here;
-- byte counts and reordering observations are not recoveries).
local function fast_recoveries(d)
  local n = 0
  for k, v in pairs(d) do
    if type(v) == "number" and k:match("^d_") and (k:match("fast_retrans") or k:match("rack") or k:match("tlp"))
        and not (k:match("bytes") or k:match("seen") or k:match("timeout")) then
      n = n + v
    end
  end
  return n
end

-- Kernel B reads what tcplua's port 19 sends (the whole file) or port 20
-- (the file over and over, for `secs`). Returns tcplua's done line, B's
-- counter deltas, nc's rc and output.
local function from_stack(ns, net, port, n, secs)
  local k0 = net:nstat()
  local out, rc = net:peer(("timeout %d nc -d %s %d > out-%d"):format(secs, STACK, port, n))
  local d = done_line(ns, port, n)
  return d, lossnet.delta(k0, net:nstat()), rc, out
end

-- Kernel B sends the file to tcplua's port 9.
local function to_stack(ns, net, n, secs)
  local k0 = net:nstat()
  local out, rc = net:peer(("timeout %d nc -N %s 9 < data"):format(secs, STACK))
  local d = done_line(ns, 9, n)
  return d, lossnet.delta(k0, net:nstat()), rc, out
end

-- Whether out-N is a prefix of the file repeated (port 20's stream).
local function repeated_prefix(net, n)
  local out, rc = net:peer(("len=$(stat -c %%s out-%d); (while :; do cat data || break; done) | head -c $len "
    .. "| cmp - out-%d"):format(n, n))
  return rc == 0, out
end

local function why(d, k)
  return d.line .. " | kernel: " .. lossnet.kernel_digest(k)
end

describe("tcp interop under loss: a kernel peer behind an nftables router", function()
  it("repairs a single dropped data segment from tcplua without an RTO, 5 runs out of 5", function()
    local ns, net = world(finally, pending, { "--seed", "61" }, 2 * MB, "off")
    if not ns then return end
    local sum = interop.sha256(ns, "data")
    for n = 1, 5 do
      net:impair({ lossnet.drop_nth("from_stack", 200) })
      local d, k, rc, out = from_stack(ns, net, 19, n, 20)
      assert.equal(0, rc, "nc: " .. out .. " " .. why(d, k))
      assert.equal(sum, interop.sha256(ns, "out-" .. n), "run " .. n .. ": bytes differ " .. why(d, k))
      assert.equal(1, net:counters().drop, "run " .. n .. ": the rule dropped no segment")
      -- The kernel queued what came after the hole, tcplua resent the hole
      -- (once is enough) and never waited for its retransmission timer.
      assert.is_true(k.TcpExtTCPOFOQueue >= 1, "run " .. n .. ": " .. why(d, k))
      assert.is_true(d.d_tcp_retrans_segs >= 1, "run " .. n .. ": " .. why(d, k))
      -- (an RTO resends the flight; each tail loss probe may resend one
      -- segment more, and on a loaded machine an ACK can come later than
      -- the probe's 2 SRTT + 2 ms, so probes are counted apart)
      local probes = d.d_tcp_tlp_probes or 0
      assert.is_true(d.d_tcp_retrans_segs - probes <= 2, "run " .. n .. " resent too much: " .. why(d, k))
      assert.equal(0, d.d_tcp_rto_expired, "run " .. n .. " needed an RTO: " .. why(d, k))
      assert.is_true(fast_recoveries(d) >= 1, "run " .. n .. ": " .. why(d, k))
    end
  end)

  it("a single dropped data segment to tcplua is repaired by the kernel without an RTO, 5 runs out of 5", function()
    local ns, net = world(finally, pending, { "--seed", "62" }, 2 * MB, "off")
    if not ns then return end
    local sum = interop.sha256(ns, "data")
    for n = 1, 5 do
      net:impair({ lossnet.drop_nth("to_stack", 200) })
      local d, k, rc, out = to_stack(ns, net, n, 20)
      assert.equal(0, rc, "nc: " .. out .. " " .. why(d, k))
      assert.equal(sum, interop.sha256(ns, "in-" .. n), "run " .. n .. ": bytes differ " .. why(d, k))
      assert.equal(1, net:counters().drop)
      -- tcplua queued the data past the hole (and SACKed it); the kernel
      -- sender repaired the hole without a timeout.
      assert.is_true(d.d_tcp_ooo_segs >= 1, "run " .. n .. ": " .. why(d, k))
      assert.is_true(k.TcpRetransSegs >= 1, "run " .. n .. ": " .. why(d, k))
      assert.equal(0, k.TcpExtTCPTimeouts, "run " .. n .. ": the kernel needed an RTO: " .. why(d, k))
    end
  end)

  for _, off in ipairs({ "off", "on" }) do
    -- With offloads on a drop takes a whole 64 KB super-segment and the
    -- flight is often one or two of them: a loss there is a tail loss,
    -- and a lost probe leaves the RTO (the kernel sender, through the same
    -- router, needed 3-8 RTOs in 4 s in make bench's runs).
    local max_rto = off == "on" and 6 or 3
    it("tcplua sends for 5 s through 1% random loss (offloads " .. off .. ") with at most " .. max_rto .. " RTOs", function()
      local ns, net = world(finally, pending, { "--seed", "63" }, MB, off)
      if not ns then return end
      net:impair({ lossnet.drop_random("from_stack", 1) })
      local d, k, rc = from_stack(ns, net, 20, 1, 5)
      assert.equal(124, rc, "nc should run its full 5 s: " .. why(d, k))
      local ok, diff = repeated_prefix(net, 1)
      assert.is_true(d.bytes > 0 and ok, "bytes differ: " .. tostring(diff) .. " " .. why(d, k))
      assert.is_true(net:counters().drop > 0, "no packet was dropped")
      assert.is_true(d.d_tcp_retrans_segs > 0, why(d, k))
      -- Losses are repaired by fast retransmit / RACK / TLP, not timeouts.
      assert.is_true(fast_recoveries(d) >= 1, why(d, k))
      assert.is_true(d.d_tcp_rto_expired <= max_rto, "too many RTOs: " .. why(d, k))
    end)

    -- With offloads on a packet is a TSO super-segment of up to 64 KB:
    -- more bytes give 1% of them a chance, and the 20th is always dropped.
    local size = off == "on" and 32 * MB or 8 * MB
    it(("the kernel sends %d MB to tcplua through 1%% random loss (offloads %s), byte-exact, few RTOs")
      :format(size / MB, off), function()
      local ns, net = world(finally, pending, { "--seed", "64" }, size, off)
      if not ns then return end
      net:impair({ lossnet.drop_nth("to_stack", 20, "drop"), lossnet.drop_random("to_stack", 1) })
      local d, k, rc, out = to_stack(ns, net, 1, 30)
      assert.equal(0, rc, "nc: " .. out .. " " .. why(d, k))
      assert.equal(interop.sha256(ns, "data"), interop.sha256(ns, "in-1"), why(d, k))
      assert.is_true(net:counters().drop > 0, "no packet was dropped")
      assert.is_true(k.TcpRetransSegs > 0, why(d, k))
      assert.is_true(d.d_tcp_ooo_segs > 0, why(d, k))
      assert.is_true(k.TcpExtTCPTimeouts <= 3, "the kernel needed many RTOs: " .. why(d, k))
      -- tcplua kept every out-of-order segment (a receiver that throws
      -- them away makes the sender resend what had arrived).
      assert.equal(0, d.d_drop_tcp_ooo_overflow, "tcplua threw away out-of-order data: " .. why(d, k))
      -- Each drop costs a kernel sender one retransmission of data that
      -- never arrived (tcplua counts the ones that did: tcp_dup_data), plus
      -- a few for retransmissions lost in turn. Resends of data tcplua had
      -- come from two causes. A receiver that withholds its ACKs or SACK
      -- blocks: tcplua reports every out-of-order range first in some ACK
      -- (sim/tcp_sack_compress_spec). And reordering on the path: under
      -- load, a retransmission the kernel sends from inside tcplua's ACK
      -- write can overtake originals still waiting in another CPU's
      -- backlog, and the kernel's RACK, whose reordering window is zero
      -- until it has seen reordering, resends them (seen at up to 10x the
      -- drops in full runs on a loaded machine, about 1x alone). Each such
      -- duplicate is reported in a D-SACK (RFC 2883), which is how the
      -- kernel learns of the reordering and widens its window.
      local drops = net:counters().drop
      if off == "off" then
        -- a resend wholly below RCV.NXT fails the acceptability test
        -- (RFC 9293 3.10.7.4) and is counted there, one partly or wholly
        -- above it as duplicate data; both are answered with a D-SACK
        local dups = (d.d_tcp_dup_data or 0) + (d.d_drop_tcp_unacceptable or 0)
        assert.is_true(k.TcpRetransSegs - dups <= 2 * drops + 10,
          ("the kernel resent %d segments tcplua never had, for %d drops: %s"):format(k.TcpRetransSegs - dups, drops,
            why(d, k)))
        assert.is_true(d.d_tcp_dsack_sent >= dups, "duplicates not D-SACKed: " .. why(d, k))
        assert.is_true(k.TcpRetransSegs <= 16 * drops + 20,
          ("the kernel resent %d segments for %d drops: %s"):format(k.TcpRetransSegs, drops, why(d, k)))
      end
    end)
  end

  -- BBR (--cc bbr, core/tcp/cc/tcp_cc_bbr.c) does not read random loss as
  -- congestion: its window stays near 2 x BDP, so RACK finds each loss
  -- while plenty is still in flight after it.
  it("tcplua sends 8 MB with BBR through 3% random loss: byte-exact, repaired without RTOs", function()
    local ns, net = world(finally, pending, { "--seed", "66", "--cc", "bbr" }, 8 * MB, "off")
    if not ns then return end
    net:impair({ lossnet.drop_random("from_stack", 3) })
    local d, k, rc, out = from_stack(ns, net, 19, 1, 60)
    assert.equal(0, rc, "nc: " .. out .. " " .. why(d, k))
    assert.equal(interop.sha256(ns, "data"), interop.sha256(ns, "out-1"), "bytes differ " .. why(d, k))
    local drops = net:counters().drop
    assert.is_true(drops > 50, "dropped only " .. drops)
    assert.is_true(d.d_tcp_retrans_segs >= drops, why(d, k))
    assert.is_true(fast_recoveries(d) >= 1, why(d, k))
    -- a lost retransmission whose repair needs the timer may happen
    assert.is_true(d.d_tcp_rto_expired <= 2, "too many RTOs: " .. why(d, k))
  end)

  it("nftables duplicates 5% of the data packets each way: byte-exact, D-SACKed, no RTO", function()
    local ns, net = world(finally, pending, { "--seed", "65" }, 4 * MB, "off")
    if not ns then return end
    local sum = interop.sha256(ns, "data")
    net:impair({ lossnet.duplicate("from_stack", 5, "dup_from"), lossnet.duplicate("to_stack", 5, "dup_to") })
    local d, k, rc, out = from_stack(ns, net, 19, 1, 20)
    assert.equal(0, rc, "nc: " .. out)
    assert.equal(sum, interop.sha256(ns, "out-1"), why(d, k))
    assert.is_true(net:counters().dup_from > 0)
    assert.equal(0, d.d_tcp_rto_expired, why(d, k))
    assert.is_true(k.TcpExtTCPDSACKOldSent > 0, "the kernel saw no duplicate: " .. why(d, k))
    d, k, rc, out = to_stack(ns, net, 1, 20)
    assert.equal(0, rc, "nc: " .. out)
    assert.equal(sum, interop.sha256(ns, "in-1"), why(d, k))
    assert.is_true(net:counters().dup_to > 0)
    -- tcplua D-SACKed the duplicates (RFC 2883) and the kernel saw that.
    assert.is_true(d.d_tcp_dsack_sent > 0, "tcplua reported no duplicate: " .. why(d, k))
    assert.is_true(k.TcpExtTCPDSACKRecv > 0, why(d, k))
    assert.equal(0, k.TcpExtTCPTimeouts, why(d, k))
  end)

  for _, off in ipairs({ "off", "on" }) do
    it("tcplua's --reorder 5% --duplicate 5% (offloads " .. off .. "): byte-exact both ways, no RTO", function()
      local ns, net = world(finally, pending, { "--seed", "66", "--reorder", "5%", "--duplicate", "5%" }, 4 * MB,
        off)
      if not ns then return end
      local sum = interop.sha256(ns, "data")
      local d, k, rc, out = from_stack(ns, net, 19, 1, 20)
      assert.equal(0, rc, "nc: " .. out)
      assert.equal(sum, interop.sha256(ns, "out-1"), why(d, k))
      assert.equal(0, d.d_tcp_rto_expired, why(d, k))
      assert.equal(0, k.TcpExtTCPTimeouts, why(d, k))
      d, k, rc, out = to_stack(ns, net, 1, 20)
      assert.equal(0, rc, "nc: " .. out)
      assert.equal(sum, interop.sha256(ns, "in-1"), why(d, k))
      assert.equal(0, d.d_tcp_rto_expired, why(d, k))
      assert.equal(0, k.TcpExtTCPTimeouts, why(d, k))
      local res = interop.stop(ns)
      local s = res.stats
      assert.is_true(s.host_impair_rx_reordered > 0 and s.host_impair_tx_reordered > 0, interop.digest(s))
      assert.is_true(s.host_impair_rx_dup > 0 and s.host_impair_tx_dup > 0, interop.digest(s))
    end)
  end
end)
