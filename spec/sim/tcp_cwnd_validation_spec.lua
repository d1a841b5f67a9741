-- Congestion window validation (RFC 7661, as Linux's tcp_is_cwnd_limited):
-- cwnd grows only while it limits the sender, so an application that
-- sends less than the window allows does not build up a window it never
-- tested, which it could later dump on the network at once.
local function setup()
  local sim, a, b, log = require("helpers.luasim").pair(21)
  assert(a.listen(9, function(conn) while conn:receiveany(65536) do end end))
  return sim, b, log
end

-- Sends `rounds` bursts of `burst` bytes, `gap_ms` apart; returns the
-- sender's conn:info() before the first burst and after the last.
local function paced(burst, rounds, gap_ms)
  local sim, b, log = setup()
  local first, last
  b.spawn(function()
    local c = assert(b.connect("10.0.0.1", 9))
    first = c:info()
    local chunk = string.rep("v", burst)
    for _ = 1, rounds do
      assert(c:send(chunk))
      b.sleep(gap_ms)
    end
    -- the last segment may wait for the receiver's delayed ACK
    while c:info().bytes_acked < rounds * burst do b.sleep(1) end
    last = c:info()
    c:close()
  end)
  assert.is_true(sim:run_until(function() return last ~= nil end, 60000))
  assert.are.same({}, log)
  return first, last
end

describe("congestion window validation (RFC 7661)", function()
  it("leaves cwnd at the initial window while the application sends less than it", function()
    -- 3 segments every 10 ms (RTT 2 ms) for 2 s: every burst is acknowledged
    local first, last = paced(3 * 1448, 200, 10)
    assert.are.equal(200 * 3 * 1448, last.bytes_acked)
    assert.are.equal(first.cwnd, last.cwnd)
  end)

  it("grows cwnd when the application fills it", function()
    -- 40 segments every 10 ms: more than the initial window of 10
    local first, last = paced(40 * 1448, 50, 10)
    assert.are.equal(50 * 40 * 1448, last.bytes_acked)
    assert.is_true(last.cwnd > 2 * first.cwnd, ("cwnd %d -> %d"):format(first.cwnd, last.cwnd))
  end)
end)
