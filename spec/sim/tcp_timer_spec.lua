-- TCP timers on the timing wheel (core/tcp/tcp_timer.c, core/storage/timer_wheel.c):
-- an idle connection's armed timer costs nothing per poll.
local core = require "tcplua.core"
local C = core.C
local tcpsim = require "helpers.tcpsim"

local N = tonumber(os.getenv("TIMER_SPEC_CONNS") or "") or 100000

describe("TCP timers on the timing wheel", function()
  it("polls " .. N .. " idle keepalive connections without touching their timers", function()
    local w = tcpsim.pair { seed = 41 }
    local ports = {} -- at most 10,000 connections per port, well inside the ephemeral range
    for k = 1, math.ceil(N / 10000) do ports[k] = 1000 + k end
    local per = math.ceil(N / #ports)
    local ls = {}
    for k, p in ipairs(ports) do ls[k] = w:listen(w.b, p, 65535) end
    local conns = {}
    for k = 1, N do conns[k] = w:connect(w.a, w.addr_b, ports[math.floor((k - 1) / per) + 1]) end
    local accepted = 0
    assert.is_true(w:run_until(function()
      for _, l in ipairs(ls) do
        while C.tl_accept(l) ~= nil do accepted = accepted + 1 end
      end
      return accepted == N
    end, 60e6))
    for k = 1, N do
      assert.are.equal(0, C.tl_setopt(conns[k], C.TL_OPT_KEEPIDLE_MS, 3600 * 1000))
      assert.are.equal(0, C.tl_setopt(conns[k], C.TL_OPT_KEEPALIVE, 1))
    end
    w:advance(2e6) -- handshake leftovers (delayed ACKs) run out
    assert.are.equal(N, C.tl_tcp_timer_count(w.a), "one keepalive timer per connection")
    local before = core.stats(w.a).tcp_timer_entries_visited
    local t0 = w:now()
    for _ = 1, 1000 do -- a poll every millisecond for a second
      assert.is_true(tonumber(C.tl_stack_poll(w.a, w:now())) > w:now())
      w:advance(1000)
    end
    assert.is_true(w:now() >= t0 + 1e6)
    assert.are.equal(0, core.stats(w.a).tcp_timer_entries_visited - before, "a poll with nothing due touches no timer")
    assert.are.equal(N, C.tl_tcp_timer_count(w.a))
    assert.is_true(tonumber(C.tl_stack_deadline(w.a)) > w:now(), "the next wake is in the future")
    -- the keepalives still fire, each once, an hour after the last segment
    local probes0 = {}
    for k = 1, N do probes0[k] = w:info(conns[k]).probes end
    w:advance(3600e6)
    local wrong, first = 0, nil
    for k = 1, N do
      local n = w:info(conns[k]).probes - probes0[k]
      if n ~= 1 then
        wrong = wrong + 1
        first = first or ("connection " .. k .. " sent " .. n .. " probes")
      end
    end
    assert.are.equal(0, wrong, tostring(wrong) .. " connections did not probe exactly once; first: " .. tostring(first))
  end)
end)
