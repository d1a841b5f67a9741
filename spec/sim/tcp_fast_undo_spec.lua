-- Spurious fast retransmits (reordering deeper than DupThresh) and
-- timeouts (a delay spike): Eifel detection by timestamps (RFC 3522) and
-- undo of the window reduction (RFC 9438 4.9, RFC 4015), over the sim link
-- with core/link/impair.c.
local core = require "tcplua.core"
local C = core.C
local tcpsim = require "helpers.tcpsim"

-- One bulk transfer a -> b (b declining SACK if no_sack); returns seconds
-- of virtual time, a's stats and the client's final tl_tcp_info.
local function transfer(seed, data, impair, no_undo, cc, no_sack)
  return tcpsim.bulk(data, { seed = seed, latency_us = 10000, impair_a = impair, no_undo = no_undo, cc = cc, recovery = "dupack",
    sack = not no_sack })
end

describe("spurious retransmission undo (RFC 3522, RFC 9438 4.9)", function()
  local data = tcpsim.bytes(2 * 1024 * 1024, 21)
  local reorder = { reorder = 0.05, reorder_gap = 3, rate_bps = 100e6 } -- no loss at all

  it("undoes the window cut of every fast retransmit that reordering alone caused", function()
    for _, cc in ipairs { 2, 1 } do -- CUBIC (default), NewReno
      local t_undo, st_undo, i_undo = transfer(4, data, reorder, false, cc)
      local t_cut, st_cut, i_cut = transfer(4, data, reorder, true, cc)
      local name = cc == 2 and "cubic" or "newreno"
      assert.is_true(st_undo.tcp_fast_retrans > 0, name .. ": reordering caused no fast retransmit")
      -- no loss: every fast retransmit was spurious and is found to be
      assert.are.equal(st_undo.tcp_fast_retrans, st_undo.tcp_spurious_undo, name)
      assert.are.equal(0, st_cut.tcp_spurious_undo, name .. ": tcp_no_undo")
      assert.are.equal(0, st_undo.tcp_rto_expired, name)
      -- the window does not collapse, so the transfer is much faster
      assert.is_true(i_undo.cwnd > 4 * i_cut.cwnd,
        ("%s: cwnd %d with undo, %d without"):format(name, i_undo.cwnd, i_cut.cwnd))
      assert.is_true(t_undo * 3 < t_cut, ("%s: %.2f s with undo, %.2f s without"):format(name, t_undo, t_cut))
    end
  end)

  it("raises DupThresh to the depth of reordering it found (RFC 6675 2, RFC 4653)", function()
    local deep = { reorder = 0.05, reorder_gap = 6, rate_bps = 100e6 }
    local _, st = transfer(5, data, deep, false)
    local _, st_cut = transfer(5, data, deep, true)
    assert.is_true(st_cut.tcp_fast_retrans >= 20, "reordering too rare to tell: " .. st_cut.tcp_fast_retrans)
    -- the first spurious retransmits teach the depth; then reordering no
    -- longer looks like loss
    assert.is_true(st.tcp_fast_retrans <= 3, st.tcp_fast_retrans .. " fast retransmits")
    assert.are.equal(st.tcp_fast_retrans, st.tcp_spurious_undo)
  end)

  it("raises DupThresh without SACK too, from the duplicate ACKs an undone fast retransmit saw", function()
    local deep = { reorder = 0.05, reorder_gap = 6, rate_bps = 100e6 }
    for _, cc in ipairs { 2, 1, 0 } do -- CUBIC, NewReno (RFC 6582), Reno
      local _, st = transfer(5, data, deep, false, cc, true)
      local _, st_cut = transfer(5, data, deep, true, cc, true)
      assert.is_true(st_cut.tcp_fast_retrans >= 20, cc .. ": reordering too rare to tell: " .. st_cut.tcp_fast_retrans)
      assert.is_true(st.tcp_reordering_raised >= 1, cc .. ": DupThresh never raised")
      assert.is_true(st.tcp_fast_retrans <= 3, cc .. ": " .. st.tcp_fast_retrans .. " fast retransmits")
      assert.are.equal(st.tcp_fast_retrans, st.tcp_spurious_undo, cc)
    end
    -- a raised DupThresh still lets real losses through: with loss alone
    -- nothing is undone, nothing raised, and nothing changes
    local lossy = { loss = 0.01, rate_bps = 100e6 }
    local t, st = transfer(2, data, lossy, false, 1, true)
    local t_cut = transfer(2, data, lossy, true, 1, true)
    assert.is_true(st.tcp_fast_retrans > 0)
    assert.are.equal(0, st.tcp_spurious_undo + st.tcp_reordering_raised)
    assert.are.equal(t_cut, t)
  end)

  it("does not undo the response to real losses", function()
    for seed = 1, 4 do
      local t_undo, st, info = transfer(seed, data, { loss = 0.01, rate_bps = 100e6 }, false)
      local t_cut = transfer(seed, data, { loss = 0.01, rate_bps = 100e6 }, true)
      assert.is_true(st.tcp_fast_retrans > 0, "seed " .. seed .. ": no loss recovery")
      assert.are.equal(0, st.tcp_spurious_undo, "seed " .. seed)
      assert.is_true(info.ssthresh < 0xffffffff, "seed " .. seed .. ": window never reduced")
      assert.are.equal(t_cut, t_undo, "seed " .. seed .. ": behaviour changed without reordering")
    end
  end)

  it("keeps undoing correctly when loss and reordering mix", function()
    for seed = 1, 4 do
      local imp = { loss = 0.01, reorder = 0.03, reorder_gap = 4, rate_bps = 100e6 }
      local t_undo, st = transfer(seed, data, imp, false)
      local t_cut = transfer(seed, data, imp, true)
      assert.is_true(st.tcp_spurious_undo < st.tcp_fast_retrans, "seed " .. seed .. ": real losses undone too")
      assert.is_true(t_undo < t_cut * 1.1, ("seed %d: %.2f s with undo, %.2f s without"):format(seed, t_undo, t_cut))
    end
  end)

  -- Bulk transfer with an event in the middle; returns a's stats and the
  -- client's info at the end.
  local function with_event(no_undo, event)
    local w = tcpsim.pair { seed = 12, latency_us = 10000,
      config = function(cfg) cfg.tcp_no_undo = no_undo and 1 or 0; cfg.tcp_recovery = 1 end }
    local c, s = w:establish(80)
    local chunk = tcpsim.bytes(65536, 3)
    local function pump(us)
      local stop = w:now() + us
      w:run_until(function()
        for _ = 1, 16 do
          if C.tl_send(c, chunk, #chunk, w:now()) <= 0 then break end
        end
        w:read(s)
        return w:now() >= stop
      end, us + 1e6)
    end
    pump(1e6)
    event(w, pump)
    pump(2e6)
    return core.stats(w.a), w:info(c)
  end

  local function spike(w, pump) -- ACKs sent in the next 50 ms take 0.5 s longer
    w:impair(w.ep_b, { delay_us = 500000 })
    pump(50000)
    w:impair(w.ep_b, {})
  end

  local function blackout(w, pump) -- the data direction loses everything for 0.5 s
    w:impair(w.ep_a, { loss = 1 })
    pump(500000)
    w:impair(w.ep_a, {})
  end

  it("undoes a timeout caused by a delay spike longer than the RTO (RFC 3522, RFC 4015)", function()
    local st, i = with_event(false, spike)
    local st_cut, i_cut = with_event(true, spike)
    assert.are.equal(1, st.tcp_rto_expired)
    assert.are.equal(1, st.tcp_spurious_rto)
    assert.are.equal(1, st.tcp_spurious_undo)
    assert.are.equal(0, st_cut.tcp_spurious_undo)
    assert.are.equal(0xffffffff, i.ssthresh) -- slow start was never left: nothing was lost
    assert.is_true(i_cut.ssthresh < 0xffffffff)
    assert.is_true(i.cwnd > 2 * i_cut.cwnd, ("cwnd %d with undo, %d without"):format(i.cwnd, i_cut.cwnd))
    -- RFC 4015: new data next, not a go-back-N resend of what was in flight
    assert.are.equal(1, tonumber(i.total_retrans))
  end)

  it("does not undo timeouts after a blackout, where the data was really lost", function()
    local st, i = with_event(false, blackout)
    local _, i_cut = with_event(true, blackout)
    assert.is_true(st.tcp_rto_expired >= 1)
    assert.are.equal(0, st.tcp_spurious_undo)
    assert.are.equal(i_cut.cwnd, i.cwnd)
    assert.are.equal(i_cut.ssthresh, i.ssthresh)
  end)
end)
