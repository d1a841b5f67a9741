-- Socket buffers (core/tcp/tcp_buf.c): receive and send auto-tuning, buffers
-- kept across request/response messages and freed once idle.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local tcpsim = require "helpers.tcpsim"

local MB = 1024 * 1024

local function stream_time(lock, seed)
  local w = tcpsim.pair { seed = seed, latency_us = 5000 }
  local c, s = w:establish(80)
  if lock then
    assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_RCVBUF, 256 * 1024))
    assert.are.equal(0, C.tl_setopt(c, C.TL_OPT_SNDBUF, 256 * 1024))
  end
  local data = tcpsim.bytes(16 * MB, seed)
  local t0 = w:now()
  local got, fin = w:stream(c, s, data, 120e6)
  assert(fin and got == data, "stream incomplete")
  return w:now() - t0, w:info(c), w:info(s)
end

describe("buffer auto-tuning", function()
  it("grows the receive and send buffers of a bulk transfer and moves it faster than fixed 256 KB ones", function()
    local t_auto, ci, si = stream_time(false, 31)
    local t_fixed, cf, sf = stream_time(true, 31)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    assert.is_true(si.rcvbuf > cfg.tcp_rcvbuf, "receive buffer stayed at " .. si.rcvbuf)
    assert.is_true(si.rcvbuf <= cfg.tcp_rcvbuf_max)
    assert.is_true(ci.sndbuf > cfg.tcp_sndbuf, "send buffer stayed at " .. ci.sndbuf)
    assert.is_true(ci.sndbuf <= cfg.tcp_sndbuf_max)
    assert.are.equal(256 * 1024, sf.rcvbuf, "an explicit TL_OPT_RCVBUF is kept")
    assert.are.equal(256 * 1024, cf.sndbuf, "an explicit TL_OPT_SNDBUF is kept")
    -- RTT 10 ms: 256 KB per RTT is ~26 MB/s; the grown buffers are not the limit
    assert.is_true(t_auto < 0.5 * t_fixed, ("auto %.2f s vs fixed %.2f s"):format(t_auto / 1e6, t_fixed / 1e6))
  end)

  it("offers a window scale that covers the ceiling (RFC 7323 2.2: fixed at the SYN)", function()
    local w = tcpsim.pair { seed = 32 }
    local _, s = w:establish(80)
    local cfg = C.tl_stack_config(w.b)
    local i = w:info(s)
    -- the advertised window can reach the ceiling once the buffer grows
    assert.is_true(i.rcv_wnd <= cfg.tcp_rcvbuf)
    local shift = 0
    while 65535 * 2 ^ shift < cfg.tcp_rcvbuf_max do shift = shift + 1 end
    assert.is_true(shift > 3)
  end)

  it("keeps a fixed size when tcp_rcvbuf_max / tcp_sndbuf_max are 0", function()
    local w = tcpsim.pair { seed = 33, latency_us = 5000, config = function(cfg)
      cfg.tcp_rcvbuf_max, cfg.tcp_sndbuf_max = 0, 0
    end }
    local c, s = w:establish(80)
    local data = tcpsim.bytes(4 * MB, 3)
    local got, fin = w:stream(c, s, data, 120e6)
    assert(fin and got == data)
    assert.are.equal(256 * 1024, w:info(s).rcvbuf)
    assert.are.equal(256 * 1024, w:info(c).sndbuf)
  end)
end)

describe("buffer retention", function()
  it("keeps buffers across request/response messages, frees them after tcp_buf_hold_us idle", function()
    local w = tcpsim.pair { seed = 34 }
    local c, s = w:establish(7)
    local hold = C.tl_stack_config(w.a).tcp_buf_hold_us
    local function released(st) return tonumber(core.stats(st).tcp_buf_release) end
    for k = 1, 200 do
      local msg = "request " .. k
      w:send(c, msg)
      assert.is_true(w:run_until(function() return tonumber(C.tl_readable(s)) == #msg end, 1e6))
      w:send(s, w:read(s))
      assert.is_true(w:run_until(function() return tonumber(C.tl_readable(c)) == #msg end, 1e6))
      assert.are.equal(msg, w:read(c))
    end
    -- 200 round trips well inside the hold time: the buffers never went
    assert.are.equal(0, released(w.a))
    assert.are.equal(0, released(w.b))
    assert.are.equal(3, C.tl_sock_buffers_held(c))
    assert.are.equal(3, C.tl_sock_buffers_held(s))
    -- idle: gone after the hold time
    w:advance(hold + 500000)
    assert.are.equal(0, C.tl_sock_buffers_held(c))
    assert.are.equal(0, C.tl_sock_buffers_held(s))
    assert.are.equal(2, released(w.a))
    assert.are.equal(2, released(w.b))
    -- and come back when traffic does
    w:send(c, "again")
    assert.is_true(w:run_until(function() return tonumber(C.tl_readable(s)) == 5 end, 1e6))
    assert.are.equal("again", w:read(s))
  end)

  it("frees the buffers of a one-off message at once (no hold for a hello-then-idle connection)", function()
    local w = tcpsim.pair { seed = 37 }
    local c, s = w:establish(7)
    w:send(c, "hello")
    assert.is_true(w:run_until(function() return tonumber(C.tl_readable(s)) == 5 end, 1e6))
    assert.are.equal("hello", w:read(s))
    assert.is_true(w:run_until(function() return w:info(c).unacked == 0 end, 1e6))
    assert.are.equal(0, C.tl_sock_buffers_held(c))
    assert.are.equal(0, C.tl_sock_buffers_held(s))
    assert.are.equal(0, tonumber(C.tl_tcp_timer_count(w.b)), "no release timer for a one-off")
  end)

  it("holds no buffer on an idle connection that never moved data", function()
    local w = tcpsim.pair { seed = 35 }
    local c, s = w:establish(7)
    w:advance(1e6)
    assert.are.equal(0, C.tl_sock_buffers_held(c))
    assert.are.equal(0, C.tl_sock_buffers_held(s))
    assert.is_true(C.tl_tcp_sock_size() <= 1024, "TCB is " .. tostring(C.tl_tcp_sock_size()) .. " bytes")
  end)
end)

describe("idle connections and timers", function()
  it("leaves no timer armed for 2000 idle connections once their buffers are released", function()
    local w = tcpsim.pair { seed = 36 }
    local l = w:listen(w.b, 7, 4096)
    local conns = {}
    for k = 1, 2000 do conns[k] = w:connect(w.a, w.addr_b, 7) end
    local servers = {}
    assert.is_true(w:run_until(function()
      w:accept_all(l, servers)
      return #servers == 2000
    end, 10e6))
    -- one message each way on every connection, then silence
    for k = 1, 2000 do w:send(conns[k], "hi") end
    assert.is_true(w:run_until(function()
      for k = 1, 2000 do if tonumber(C.tl_readable(servers[k])) < 2 then return false end end
      return true
    end, 10e6))
    for k = 1, 2000 do w:read(servers[k]) end
    w:advance(C.tl_stack_config(w.a).tcp_buf_hold_us + 1e6)
    -- nothing left to do per tick: no heap entries, no deadline at all
    assert.are.equal(0, C.tl_tcp_timer_count(w.a))
    assert.are.equal(0, C.tl_tcp_timer_count(w.b))
    assert.are.equal(-1, tonumber(C.tl_stack_deadline(w.a)))
    assert.are.equal(-1, tonumber(C.tl_stack_deadline(w.b)))
    for k = 1, 2000 do
      assert.are.equal(0, C.tl_sock_buffers_held(conns[k]))
      assert.are.equal(0, C.tl_sock_buffers_held(servers[k]))
    end
  end)
end)
