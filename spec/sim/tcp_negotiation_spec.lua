-- Option negotiation, packetdrill-style: window scale and timestamps (RFC
-- 7323), SACK (RFC 2018, RFC 2883) and MSS (RFC 9293 3.7.1, RFC 6691),
-- with a raw peer over the sim. Both sides are driven: tcplua listening
-- (the peer sends a hand-built SYN) and tcplua connecting (the peer answers
-- with a hand-built SYN-ACK). Each test names the rule it checks; the
-- behaviours other specs already pin down are listed in
-- docs/rfc-compliance.md next to these.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, RPORT, PEER_ISS = 80, 9000, 777000

local function stats(p) return core.stats(p.st) end
local info = pkt.info

local function has_flag(r, f) return r.flags:find(f, 1, true) ~= nil end

-- tcplua listening; the peer's SYN carries `opts`. Returns the peer, the
-- listener and the SYN-ACK.
local function passive(seed, opts, config)
  local p = pkt.peer { seed = seed, config = config }
  local l = p:listen(PORT)
  local t = { sport = RPORT, dport = PORT, seq = PEER_ISS, flags = "S", win = 65535 }
  for k, v in pairs(opts or {}) do t[k] = v end
  p:send(t)
  local sa = assert(p:expect(100000), "no SYN-ACK")
  assert.are.equal("S.", sa.flags, pkt.describe(sa))
  return p, l, sa
end

-- tcplua connecting; the peer answers its SYN with a SYN-ACK carrying
-- `opts` (nil: no answer yet). Returns the peer, the socket, our SYN and
-- the ACK of the handshake.
local function active(seed, opts, config)
  local p = pkt.peer { seed = seed, config = config }
  local err = ffi.new("int[1]")
  local s = C.tl_connect(p.st, core.ip(p.peer_addr), RPORT, 40000, p:now(), err)
  assert(s ~= nil, "tl_connect failed: " .. core.strerror(err[0]))
  local syn = assert(p:expect(100000), "no SYN")
  assert.are.equal("S", syn.flags)
  if not opts then return p, s, syn end
  local t = { sport = RPORT, dport = 40000, seq = PEER_ISS, ack = syn.seq + 1, flags = "S.", win = 65535 }
  for k, v in pairs(opts) do t[k] = v end
  if t.ts == true then t.ts = { 5000, syn.ts[1] } end
  p:send(t)
  local ack = assert(p:expect(100000), "SYN-ACK not acknowledged")
  assert.are.equal(".", ack.flags, pkt.describe(ack))
  assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
  return p, s, syn, ack
end

-- A connection as the peer sees it: where to send from, what to echo.
-- conn:send{...} fills ports, seq (the peer's next byte unless given), ack
-- and, when timestamps were agreed, a TSval that grows by one per segment.
local Conn = {}
Conn.__index = Conn

local function conn(p, s, peer_port, our_port, peer_nxt, our_nxt, ts)
  return setmetatable({ p = p, s = s, sport = peer_port, dport = our_port, nxt = peer_nxt, ack = our_nxt,
    tsval = ts and ts.val, tsecr = ts and ts.ecr }, Conn)
end

function Conn:send(t)
  t = t or {}
  local seg = { sport = self.sport, dport = self.dport, seq = self.nxt, ack = self.ack, flags = ".", win = 65535 }
  for k, v in pairs(t) do seg[k] = v end
  if self.tsval and seg.ts == nil then
    self.tsval = self.tsval + 1
    seg.ts = { self.tsval, self.tsecr }
  end
  if seg.ts == false then seg.ts = nil end
  if t.seq == nil then self.nxt = self.nxt + #(seg.data or "") + (seg.flags:find("F") and 1 or 0) end
  return self.p:send(seg)
end

-- Everything tcplua sends within `us`; the next send ACKs all of it and
-- echoes the latest TSval.
function Conn:collect(us)
  local got = self.p:collect(us)
  for _, r in ipairs(got) do
    if r.ts then self.tsecr = r.ts[1] end
    local top = r.seq + #r.data + (has_flag(r, "F") and 1 or 0)
    if top - self.ack > 0 and top - self.ack < 2 ^ 31 then self.ack = top end
  end
  return got
end

-- Passive open completed with the final ACK; returns the connection.
local function passive_conn(seed, opts, config)
  local p, l, sa = passive(seed, opts, config)
  local ts = opts.ts and sa.ts and { val = opts.ts[1], ecr = sa.ts[1] } or nil
  local c = conn(p, nil, RPORT, PORT, PEER_ISS + 1, sa.seq + 1, ts)
  c:send {}
  c:collect(1000)
  c.s = C.tl_accept(l)
  assert(c.s ~= nil, "nothing to accept")
  return c, sa
end

local function active_conn(seed, opts, config)
  local p, s, syn, ack = active(seed, opts, config)
  local ts = opts.ts and { val = 5000, ecr = syn.ts[1] } or nil
  return conn(p, s, RPORT, 40000, PEER_ISS + 1, syn.seq + 1, ts), syn, ack
end

local function send_app(c, data) assert.are.equal(#data, tonumber(C.tl_send(c.s, data, #data, c.p:now()))) end

-- Exercises most kinds of segment a connection sends: data, pure and
-- delayed ACKs, an immediate ACK for out-of-order data, a challenge ACK, a
-- zero-window probe, a keepalive probe, a FIN. The peer ACKs what it gets
-- after each step. Returns every segment sent.
local function exercise(c)
  local got = {}
  local function step(us, win)
    for _, r in ipairs(c:collect(us)) do got[#got + 1] = r end
    c:send { win = win }
    for _, r in ipairs(c:collect(1000)) do got[#got + 1] = r end -- the ACK lands
  end
  send_app(c, string.rep("d", 3000))
  step(20000)
  step(20000)                                            -- Nagle's tail
  c:send { flags = "P.", data = "hello" }                -- delayed ACK
  step(300000)
  c:send { seq = c.nxt + 100, flags = "P.", data = "ooo" } -- out of order: immediate ACK
  step(10000)
  c:send { flags = "P.", data = string.rep("f", 100) }   -- fills the hole
  c.nxt = c.nxt + 3
  step(10000)
  c:send { seq = c.nxt + 10, flags = "S" }               -- SYN in ESTABLISHED: challenge ACK
  step(10000, 0)                                         -- and the window closes
  send_app(c, "z")
  step(3000000, 0)                                       -- zero-window probes
  step(300000)                                           -- it opens: "z"
  step(300000)
  C.tl_setopt(c.s, C.TL_OPT_KEEPIDLE_MS, 1000)
  C.tl_setopt(c.s, C.TL_OPT_KEEPALIVE, 1)
  step(1500000)                                          -- a keepalive
  C.tl_shutdown(c.s, c.p:now())
  step(10000)
  return got
end

local function kinds(got)
  local k = {}
  for _, r in ipairs(got) do
    if #r.data > 0 then k.data = true end
    if has_flag(r, "F") then k.fin = true end
    if r.sack then k.sack = true end
    if #r.data == 0 and r.flags == "." then k.ack = true end
  end
  return k
end

describe("negotiation: window scale (RFC 7323 2)", function()
  it("passive: without window scale in the SYN, scales neither the peer's windows nor ours (RFC 7323 2.2)", function()
    local c, sa = passive_conn(101, { mss = 1460 })
    assert.is_nil(sa.wscale)
    c:send { win = 1000 }
    c:collect(1000)
    assert.are.equal(1000, info(c.s).snd_wnd)
    c:send { flags = "P.", data = "x" }
    local a = assert(c:collect(300000)[1], "no ACK")
    -- unscaled, a 256 KB ring offers the whole 16-bit field
    local rcvbuf = C.tl_stack_config(c.p.st).tcp_rcvbuf
    assert.are.equal(math.min(65535, rcvbuf - 1), a.win)
  end)

  it("active: offers window scale in an unscaled SYN, and scales neither way when the SYN-ACK lacks it (RFC 7323 2.2)",
    function()
      local c, syn, ack = active_conn(102, { mss = 1460, win = 1000 })
      assert.is_not_nil(syn.wscale, "no window scale offered")
      local rcvbuf = C.tl_stack_config(c.p.st).tcp_rcvbuf
      assert.are.equal(math.min(65535, rcvbuf), syn.win, "the SYN's window is scaled")
      assert.are.equal(1000, info(c.s).snd_wnd)
      assert.are.equal(math.min(65535, rcvbuf), ack.win, "our window scaled though the peer did not agree")
      c:send { win = 1000 }
      c:collect(1000)
      assert.are.equal(1000, info(c.s).snd_wnd)
    end)

  it("active: takes the SYN-ACK's window unscaled and scales every later one (RFC 7323 2.2)", function()
    local c, syn, ack = active_conn(103, { mss = 1460, win = 1000, wscale = 3 })
    assert.are.equal(1000, info(c.s).snd_wnd)
    c:send { win = 1000 }
    c:collect(1000)
    assert.are.equal(8000, info(c.s).snd_wnd)
    -- and our own windows are scaled by the shift our SYN offered
    local rcvbuf = C.tl_stack_config(c.p.st).tcp_rcvbuf
    assert.are.equal(math.floor(rcvbuf / 2 ^ syn.wscale), ack.win)
  end)

  for _, side in ipairs { "passive", "active" } do
    it(side .. ": uses 14 for a shift over 14 and counts it (RFC 7323 2.3)", function()
      local c
      if side == "passive" then
        c = passive_conn(104, { mss = 1460, wscale = 15 })
      else
        c = active_conn(104, { mss = 1460, wscale = 255 })
      end
      c:send { win = 3 }
      c:collect(1000)
      assert.are.equal(3 * 2 ^ 14, info(c.s).snd_wnd)
      assert.are.equal(1, stats(c.p).tcp_wscale_clamped)
    end)
  end

  it("ignores a window scale option on a segment without SYN (RFC 7323 2.2)", function()
    local c = passive_conn(105, { mss = 1460, wscale = 2 })
    assert.are.equal(65535 * 4, info(c.s).snd_wnd) -- the handshake's ACK is scaled already
    c:send { win = 1000, wscale = 9 }
    c:collect(1000)
    assert.are.equal(4000, info(c.s).snd_wnd)
  end)

  -- The right edge each ACK advertises, checked as it arrives.
  local function edges(c, shift, check)
    for _, a in ipairs(c:collect(300000)) do check(a.ack + a.win * 2 ^ shift, a) end
  end
  local SIZES = { 1, 100, 333, 1000, 7, 1460, 1, 999, 64, 129, 517, 3 }

  it("never pulls back the right edge while the ring has room for the rounded window (RFC 7323 2.4)", function()
    local c, sa = passive_conn(106, { mss = 1460, wscale = 7 })
    local shift = sa.wscale
    assert.is_true(shift > 0, "no scaling to round")
    local edge, n, buf = nil, 0, ffi.new("uint8_t[4096]")
    -- odd sizes move RCV.NXT off the 2^shift grid; reads of less than an
    -- MSS leave the edge where it was (receiver SWS avoidance), so only
    -- the rounding could move it
    for _, size in ipairs(SIZES) do
      c:send { flags = "P.", data = string.rep("w", size) }
      edges(c, shift, function(e)
        if edge then assert.is_true(e >= edge, ("right edge moved back from %d to %d"):format(edge, e)) end
        edge, n = e, n + 1
      end)
      C.tl_recv(c.s, buf, 4096, c.p:now())
    end
    assert.is_true(n >= 6, "too few ACKs to judge")
  end)

  it("pulls the edge back by less than 2^shift only near a full ring, and takes data up to any edge it offered (RFC 7323 2.4)",
    function()
      local c, sa = passive_conn(107, { mss = 1460, wscale = 7 }, function(cfg) cfg.tcp_rcvbuf = 16384 end)
      local shift = sa.wscale
      assert.is_true(shift > 0, "no scaling to round")
      local most, n = 0, 0
      -- nothing is read: the ring fills, and the rounding of a held edge can
      -- only go down (up would offer bytes the ring lacks)
      for _, size in ipairs(SIZES) do
        c:send { flags = "P.", data = string.rep("w", size) }
        edges(c, shift, function(e)
          assert.is_true(e > most - 2 ^ shift, ("right edge moved back from %d to %d"):format(most, e))
          most, n = math.max(most, e), n + 1
        end)
      end
      assert.is_true(n >= 6, "too few ACKs to judge")
      -- receiver rule 1: a segment up to the furthest edge ever offered is taken whole
      local held, room = tonumber(C.tl_readable(c.s)), most - c.nxt
      assert.is_true(room > 0)
      c:send { flags = "P.", data = string.rep("e", room) }
      c:collect(300000)
      assert.are.equal(held + room, tonumber(C.tl_readable(c.s)))
    end)
end)

describe("negotiation: timestamps (RFC 7323 3, 4, 5)", function()
  it("active: offers timestamps in its SYN with TSecr 0 (RFC 7323 3.2)", function()
    local _, _, syn = active(111)
    assert.is_not_nil(syn.ts, "no timestamps offered")
    assert.are.equal(0, syn.ts[2])
  end)

  it("passive: sends no timestamps option in any segment when the SYN had none (RFC 7323 3.2)", function()
    local c, sa = passive_conn(112, { mss = 1460, sackok = true })
    assert.is_nil(sa.ts)
    local got = exercise(c)
    local k = kinds(got)
    assert.is_true(k.data and k.fin and k.ack, "the exchange did not cover data, ACKs and FIN")
    for _, r in ipairs(got) do assert.is_nil(r.ts, "timestamps on " .. pkt.describe(r)) end
    C.tl_abort(c.s, c.p:now())
  end)

  it("active: sends no timestamps option in any segment when the SYN-ACK had none (RFC 7323 3.2)", function()
    local c, _, ack = active_conn(113, { mss = 1460 })
    assert.is_nil(ack.ts)
    local got = exercise(c)
    for _, r in ipairs(got) do assert.is_nil(r.ts, "timestamps on " .. pkt.describe(r)) end
  end)

  for _, side in ipairs { "passive", "active" } do
    it(side .. ": once agreed, puts the timestamps option on every segment, the RST of an abort too (RFC 7323 3.2)",
      function()
        local c
        if side == "passive" then
          c = passive_conn(114, { mss = 1460, ts = { 100, 0 } })
        else
          c = active_conn(114, { mss = 1460, ts = true })
        end
        local got = exercise(c)
        local k = kinds(got)
        assert.is_true(k.data and k.fin and k.ack, "the exchange did not cover data, ACKs and FIN")
        local last = -1
        for _, r in ipairs(got) do
          assert.is_not_nil(r.ts, "no timestamps on " .. pkt.describe(r))
          -- and the SYN-only options stay on the SYN (RFC 9293 3.7.1, RFC 7323 2.2, RFC 2018 2)
          assert.is_nil(r.mss or r.wscale or r.sackok, "a SYN-only option on " .. pkt.describe(r))
          assert.is_true(r.ts[1] >= last, "TSval went back")
          last = r.ts[1]
        end
        local i = info(c.s)
        assert.is_true(i.probes >= 2, "no keepalive or no window probe was sent")
        assert.is_true(i.challenge_acks >= 1, "no challenge ACK was sent")
        C.tl_abort(c.s, c.p:now())
        local rst = assert(c.p:expect(10000), "no RST on abort")
        assert.are.equal("R", rst.flags)
        assert.is_not_nil(rst.ts, "RST without timestamps")
        assert.is_true(rst.ts[1] >= last, "TSval went back")
        assert.are.equal(0, rst.ts[2]) -- no ACK bit: TSecr zero (RFC 7323 3.2)
      end)
  end

  it("passive: repeats the SYN-ACK's options when it retransmits it, with a later TSval (RFC 7323 3.2)", function()
    local p, _, sa = passive(150, { mss = 1460, wscale = 7, sackok = true, ts = { 4242, 0 } })
    local again = assert(p:expect(5000000), "SYN-ACK not retransmitted")
    assert.are.equal("S.", again.flags)
    assert.are.same({ sa.mss, sa.wscale, true, 4242 }, { again.mss, again.wscale, again.sackok, again.ts[2] })
    assert.is_true(again.ts[1] > sa.ts[1], "TSval did not advance")
  end)

  it("passive: answers a retransmitted SYN with a SYN-ACK echoing its newer TSval (RFC 7323 4.3)", function()
    local p, _, sa = passive(152, { mss = 1460, ts = { 4242, 0 } })
    p:send { sport = RPORT, dport = PORT, seq = PEER_ISS, flags = "S", win = 65535, mss = 1460, ts = { 5000, 0 } }
    local again = assert(p:expect(100000), "no SYN-ACK for the retransmitted SYN")
    assert.are.equal("S.", again.flags)
    assert.are.equal(sa.seq, again.seq)
    assert.are.equal(5000, again.ts[2])
  end)

  it("active: repeats the SYN's options when it retransmits it, TSecr still 0 (RFC 7323 3.2)", function()
    local p, _, syn = active(151)
    local again = assert(p:expect(5000000), "SYN not retransmitted")
    assert.are.equal("S", again.flags)
    assert.are.same({ syn.mss, syn.wscale, true, 0 }, { again.mss, again.wscale, again.sackok, again.ts[2] })
    assert.is_true(again.ts[1] > syn.ts[1], "TSval did not advance")
  end)

  it("drops a non-RST segment without timestamps once they were agreed, but answers probes and takes RSTs (RFC 7323 3.2)",
    function()
      local c = passive_conn(115, { mss = 1460, ts = { 100, 0 } })
      local before = stats(c.p).drop_tcp_no_ts
      -- data without TSopt: silently dropped, not acknowledged, not delivered
      c:send { flags = "P.", data = "bare", ts = false, seq = c.nxt }
      assert.are.same({}, c:collect(300000))
      assert.are.equal(0, tonumber(C.tl_readable(c.s)))
      -- nor is a bare ACK or FIN taken
      c:send { flags = "F.", ts = false, seq = c.nxt }
      assert.are.same({}, c:collect(300000))
      assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(c.s))
      assert.are.equal(before + 2, stats(c.p).drop_tcp_no_ts)
      -- a keepalive without the option is still answered (the connection
      -- must not die for a missing TSopt)
      c:send { seq = c.nxt - 1, ts = false }
      local a = assert(c:collect(10000)[1], "keepalive without timestamps not answered")
      assert.are.equal(c.nxt, a.ack)
      assert.is_not_nil(a.ts)
      -- the same data with the option is taken
      c:send { flags = "P.", data = "good" }
      c:collect(300000)
      assert.are.equal(4, tonumber(C.tl_readable(c.s)))
      -- a RST needs no timestamps
      c:send { flags = "R", ts = false }
      c:collect(10000)
      assert.are.equal(C.TL_CLOSED, C.tl_sock_state(c.s))
      assert.are.equal(C.TL_ERESET, C.tl_sock_error(c.s))
    end)

  it("echoes the earliest unacknowledged TSval while delaying an ACK (RFC 7323 4.3 A)", function()
    -- quick ACKs off: the first segments would be ACKed one by one
    local c = passive_conn(116, { mss = 1460, ts = { 100, 0 } }, function(cfg) cfg.tcp_quickacks = 0 end)
    c:send { flags = "P.", data = string.rep("a", 1000), ts = { 200, c.tsecr } }
    c:send { flags = "P.", data = string.rep("b", 1000), ts = { 300, c.tsecr } }
    local acks = c:collect(300000)
    assert.is_true(#acks >= 1, "no ACK")
    assert.are.equal(PEER_ISS + 1 + 2000, acks[#acks].ack)
    assert.are.equal(200, acks[#acks].ts[2])
  end)

  it("keeps TS.Recent from out-of-order segments and takes the TSval of the one that fills the hole (RFC 7323 4.3 C)",
    function()
      local c = passive_conn(117, { mss = 1460, ts = { 100, 0 } })
      local base, recent = c.nxt, c.tsval -- the handshake's ACK set TS.Recent
      c:send { seq = base + 500, flags = "P.", data = string.rep("o", 500), ts = { 300, c.tsecr } }
      local a1 = assert(c:collect(10000)[1], "no ACK for out-of-order data")
      assert.are.equal(base, a1.ack)
      assert.are.equal(recent, a1.ts[2], "TS.Recent taken from a segment beyond Last.ACK.sent")
      c:send { seq = base, flags = "P.", data = string.rep("i", 500), ts = { 200, c.tsecr } }
      local a2 = assert(c:collect(10000)[1], "no ACK when the hole filled")
      assert.are.equal(base + 1000, a2.ack)
      assert.are.equal(200, a2.ts[2])
    end)

  it("exempts RSTs from PAWS: an old TSval on an exact RST still resets (RFC 7323 5.3 R1)", function()
    local c = passive_conn(118, { mss = 1460, ts = { 1000, 0 } })
    c:send { flags = "P.", data = "abc", ts = { 5000, c.tsecr } }
    c:collect(300000)
    -- in the window, not exact: a challenge ACK, which still echoes 5000
    c:send { seq = c.nxt + 10, flags = "R", ts = { 10, 0 } }
    local ch = assert(c:collect(10000)[1], "no challenge ACK")
    assert.are.equal(5000, ch.ts[2])
    local paws = stats(c.p).drop_tcp_paws
    c:send { flags = "R", ts = { 10, 0 } }
    c:collect(10000)
    assert.are.equal(paws, stats(c.p).drop_tcp_paws)
    assert.are.equal(C.TL_CLOSED, C.tl_sock_state(c.s))
    assert.are.equal(C.TL_ERESET, C.tl_sock_error(c.s))
  end)

  it("keeps TS.Recent when a RST with an older TSval reaches TIME-WAIT, so an old SYN cannot reopen it (RFC 7323 5.3 R3, RFC 6191)",
    function()
      local c = passive_conn(119, { mss = 1460, ts = { 1000, 0 } })
      c.tsval = 4999
      c:send { flags = "P.", data = "abc" } -- TS.Recent 5000
      c:collect(300000)
      C.tl_recv(c.s, ffi.new("uint8_t[8]"), 8, c.p:now()) -- unread data would make close send a RST
      C.tl_close(c.s, c.p:now())
      local fin = c:collect(10000)
      assert.is_true(#fin >= 1 and has_flag(fin[#fin], "F"), "no FIN")
      c:send { flags = "F." }
      c:collect(10000)
      assert.are.equal(C.TL_TIME_WAIT, C.tl_sock_state(c.s))
      c:send { flags = "R", ts = { 10, 0 } } -- exact, ignored in TIME-WAIT (RFC 1337)
      assert.are.same({}, c:collect(10000))
      -- a SYN whose TSval is older than the connection's last one is not a
      -- new incarnation: PAWS answers it with an ACK, no SYN-ACK
      c.p:send { sport = RPORT, dport = PORT, seq = c.nxt + 100000, flags = "S", mss = 1460, ts = { 3000, 0 } }
      local r = assert(c.p:expect(10000), "the SYN got no answer")
      assert.are.equal(".", r.flags, pkt.describe(r))
      assert.are.equal(C.TL_TIME_WAIT, C.tl_sock_state(c.s))
    end)

  it("drops an old-TSval segment on the active side too, with an ACK (RFC 7323 5.3)", function()
    local c = active_conn(120, { mss = 1460, ts = true })
    c:send { flags = "P.", data = "new", ts = { 6000, c.tsecr } }
    c:collect(300000)
    c:send { flags = "P.", data = "old", ts = { 5500, c.tsecr }, seq = c.nxt }
    local a = assert(c:collect(10000)[1], "PAWS drop not answered")
    assert.are.equal(c.nxt, a.ack)
    assert.are.equal(6000, a.ts[2])
    assert.are.equal(3, tonumber(C.tl_readable(c.s)))
    assert.are.equal(1, stats(c.p).drop_tcp_paws)
  end)

  it("ticks TSval at 1 ms, never backwards (RFC 7323 5.4)", function()
    local c = passive_conn(125, { mss = 1460, ts = { 100, 0 } })
    local samples = {}
    for _, gap in ipairs { 0, 1000, 250000, 3000000, 7 } do
      if gap > 0 then c:collect(gap) end
      c:send { flags = "P.", data = "t" }
      local a = assert(c.p:expect(300000), "no ACK") -- read as it arrives, 100 us after it left
      samples[#samples + 1] = { now = c.p:now(), ts = a.ts[1] }
    end
    for i = 2, #samples do
      local dt_ms = (samples[i].now - samples[i - 1].now) / 1000
      local dts = (samples[i].ts - samples[i - 1].ts) % 2 ^ 32
      assert.is_true(dts < 2 ^ 31, "TSval went back")
      assert.is_true(math.abs(dts - dt_ms) <= 1, ("TSval moved %d for %.3f ms"):format(dts, dt_ms))
    end
  end)
end)

describe("negotiation: SACK (RFC 2018, RFC 2883)", function()
  it("active: sends no SACK blocks when the SYN-ACK did not permit them, and SACK-permitted only on the SYN (RFC 2018 2)",
    function()
      local c, syn, ack = active_conn(121, { mss = 1460, ts = true })
      assert.is_true(syn.sackok, "SACK-permitted not offered")
      assert.is_nil(ack.sackok)
      local got = exercise(c)
      for _, r in ipairs(got) do
        assert.is_nil(r.sack, "SACK blocks on " .. pkt.describe(r))
        assert.is_nil(r.sackok, "SACK-permitted on " .. pkt.describe(r))
      end
    end)

  for _, with_ts in ipairs { true, false } do
    local most = with_ts and 3 or 4
    it(("reports at most %d blocks %s timestamps, the most recently reported after the first (RFC 2018 4)"):format(
      most, with_ts and "beside" or "without"), function()
      local c = passive_conn(122, { mss = 1460, sackok = true, ts = with_ts and { 100, 0 } or nil })
      local base = c.nxt
      -- arrivals out of offset order: 5th, 1st, 3rd, 7th, 2nd hole-separated blocks
      local arrivals = { 5, 1, 3, 7, 2 }
      local function block(i) return { base + 200 * i, base + 200 * i + 100 } end
      local reported = {} -- most recent first
      for _, i in ipairs(arrivals) do
        c:send { seq = block(i)[1], flags = "P.", data = string.rep("s", 100) }
        local a = assert(c:collect(10000)[1], "no ACK for out-of-order data")
        assert.are.equal(base, a.ack)
        table.insert(reported, 1, block(i))
        local want = {}
        for k = 1, math.min(most, #reported) do want[k] = reported[k] end
        assert.are.same(want, a.sack)
      end
    end)
  end

  it("repeats a block that grew as the range now holding it (RFC 2018 4)", function()
    local c = passive_conn(123, { mss = 1460, sackok = true, ts = { 100, 0 } })
    local base = c.nxt
    c:send { seq = base + 1000, flags = "P.", data = string.rep("a", 100) }
    c:collect(10000)
    c:send { seq = base + 500, flags = "P.", data = string.rep("b", 100) }
    c:collect(10000)
    c:send { seq = base + 1100, flags = "P.", data = string.rep("c", 100) } -- extends the first block
    local a = assert(c:collect(10000)[1])
    assert.are.same({ { base + 1000, base + 1200 }, { base + 500, base + 600 } }, a.sack)
    c:send { seq = base + 200, flags = "P.", data = string.rep("d", 100) }
    a = assert(c:collect(10000)[1])
    assert.are.same({ { base + 200, base + 300 }, { base + 1000, base + 1200 }, { base + 500, base + 600 } }, a.sack)
  end)

  it("puts a D-SACK first, then the most recent blocks, within 3 blocks beside timestamps (RFC 2883 4)", function()
    local c = passive_conn(124, { mss = 1460, sackok = true, ts = { 100, 0 } })
    local base = c.nxt
    c:send { flags = "P.", data = string.rep("x", 100) } -- in order
    c:collect(300000)
    for _, off in ipairs { 700, 300, 500 } do
      c:send { seq = base + off, flags = "P.", data = string.rep("y", 100) }
      c:collect(10000)
    end
    c:send { seq = base, flags = "P.", data = string.rep("x", 100) } -- a duplicate
    local a = assert(c:collect(10000)[1], "no ACK for a duplicate")
    assert.are.equal(base + 100, a.ack)
    assert.are.same({ { base, base + 100 }, { base + 500, base + 600 }, { base + 300, base + 400 } }, a.sack)
  end)
end)

describe("negotiation: MSS (RFC 9293 3.7.1, RFC 6691)", function()
  it("active: uses 536 when the SYN-ACK has no MSS option, and sends MSS only on its SYN (RFC 9293 3.7.1)", function()
    local c, syn = active_conn(131, {})
    assert.are.equal(1460, syn.mss)
    assert.are.equal(536, info(c.s).snd_mss)
    local got = exercise(c)
    local data = 0
    for _, r in ipairs(got) do
      assert.is_nil(r.mss, "MSS option on " .. pkt.describe(r))
      assert.is_nil(r.wscale, "window scale on " .. pkt.describe(r))
      assert.is_true(#r.data <= 536, #r.data .. " bytes in one segment")
      data = data + #r.data
    end
    assert.is_true(data >= 3000)
  end)

  it("active: with timestamps agreed, keeps options plus data within the peer's MSS (RFC 6691)", function()
    local c = active_conn(132, { mss = 1000, ts = true })
    assert.are.equal(1000 - 12, info(c.s).snd_mss)
    send_app(c, string.rep("m", 5000))
    local n = 0
    for _, r in ipairs(c:collect(20000)) do
      if #r.data > 0 then
        n = n + 1
        assert.is_true(r.hdrlen - 20 + #r.data <= 1000, "options plus data exceed the MSS")
      end
    end
    assert.is_true(n >= 3)
  end)

  for _, side in ipairs { "passive", "active" } do
    it(side .. ": advertises the MTU less 40 bytes when the MTU is not 1500 (RFC 9293 3.7.1)", function()
      local cfg = function(c) c.mtu = 1280 end
      local mss
      if side == "passive" then
        local _, _, sa = passive(133, { mss = 1460 }, cfg)
        mss = sa.mss
      else
        local _, _, syn = active(133, nil, cfg)
        mss = syn.mss
      end
      assert.are.equal(1240, mss)
    end)
  end
end)

describe("negotiation: malformed options", function()
  it("drops and counts segments whose options are malformed, skips unknown ones, and the connection carries on", function()
    local c = passive_conn(141, { mss = 1460, ts = { 100, 0 } })
    local bad = {
      "\8\0",                 -- length 0
      "\8\1",                 -- length 1
      "\1\1\1\8",             -- a kind with no length byte before the header ends
      "\8\10\0\0\0\1",        -- timestamps running past the header
      "\5\18\0\0\0\1\0\0\0\2", -- SACK block running past the header
    }
    local before = stats(c.p).drop_tcp_option
    for _, o in ipairs(bad) do
      c:send { flags = "P.", data = "bad", ts = false, opts = o, seq = c.nxt }
    end
    assert.are.same({}, c:collect(300000))
    assert.are.equal(before + #bad, stats(c.p).drop_tcp_option)
    assert.are.equal(0, tonumber(C.tl_readable(c.s)))
    -- an unknown option is skipped by its length and the segment taken (RFC 9293 3.2)
    c:send { flags = "P.", data = "good", opts = "\254\6\1\2\3\4" }
    c:collect(300000)
    assert.are.equal(4, tonumber(C.tl_readable(c.s)))
  end)

  it("treats a known option with the wrong length as absent, and survives an MSS of 0", function()
    -- window scale of length 4, SACK-permitted of length 3: not offered
    local _, _, sa = passive(142, { mss = 1460, opts = "\3\4\7\0\4\3\0\0" })
    assert.is_nil(sa.wscale)
    assert.is_nil(sa.sackok)
    local c = passive_conn(143, { mss = 0 })
    assert.is_true(info(c.s).snd_mss > 0)
    send_app(c, string.rep("z", 2000))
    local n = 0
    for _, r in ipairs(c:collect(300000)) do n = n + #r.data end
    assert.is_true(n > 0, "nothing sent to a peer that said MSS 0")
  end)
end)
