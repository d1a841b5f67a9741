-- Fault scopes over two real stacks: reset_after tells both ends (as
-- toxiproxy closes both sides), rate is a bucket per connection unless
-- shared, drop_first counts per connection and direction.
local luasim = require "helpers.luasim"
local fault = require "tcplua.fault"

describe("fault scopes", function()
  it("reset_after{ bytes }: the peer and tcplua's own handler both see \"reset\"", function()
    local sim, a, b, log = luasim.pair(21)
    local f = fault.new(1)
    local server_err, sent
    assert(a.listen(7, function(conn)
      conn:receive(1)
      local n, err, partial = conn:send(string.rep("z", 200000))
      sent, server_err = partial, err
      if n then server_err = select(2, conn:receive("*a")) end
    end, { on_segment = f.reset_after { bytes = 50000 } }))
    local client
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("x")
      local data, err, partial = c:receive("*a")
      client = { err = err, got = #(partial or data or "") }
    end)
    sim:run(60000)
    assert.are.same({}, log)
    assert.equal("reset", client.err)
    assert.is_true(client.got <= 50000)
    assert.equal("reset", server_err)       -- tcplua's own end is told, not left retransmitting
    assert.equal(1, f.stats().reset)
    -- tcplua's end is closed at once, not retransmitting into the void
    assert.equal(0, a.stats().tcp_rto_expired)
  end)

  it("rate: one bucket per connection by default, one for all with per = \"shared\"", function()
    -- Connections of 200 KB each through a 4 Mbit/s shaper on the server's
    -- side: per connection, two take as long as one; shared, they split it.
    local function run(opts, n)
      local sim, a, b, log = luasim.pair(22)
      local f = fault.new(2)
      assert(a.listen(7, function(conn)
        conn:receive(1)
        conn:send(string.rep("r", 200000))
      end, { on_segment = fault.outbound(f.rate(4e6, 3000, opts)) }))
      local done = {}
      local t0 = b.now()
      for i = 1, n do
        b.spawn(function()
          local c = assert(b.connect("10.0.0.1", 7))
          c:send("x")
          local data = c:receive("*a")
          done[i] = { n = #data, t = b.now() - t0 }
        end)
      end
      assert(sim:run_until(function()
        for i = 1, n do if not done[i] then return false end end
        return true
      end, 60000))
      assert.are.same({}, log)
      local last = 0
      for i = 1, n do
        assert.equal(200000, done[i].n)
        last = math.max(last, done[i].t)
      end
      return last
    end
    local one = run(nil, 1)
    local per = run(nil, 2)
    local shared = run({ per = "shared" }, 2)
    assert.is_true(math.abs(per - one) <= one * 0.1, ("one %d ms, two per connection %d ms"):format(one, per))
    assert.is_true(shared >= one * 1.5, ("one %d ms, two shared %d ms"):format(one, shared))
  end)

  it("drop_first(1) drops the first segment of each connection and direction", function()
    local sim, a, b, log = luasim.pair(23)
    local f = fault.new(3)
    assert(a.listen(7, function(conn) conn:send(conn:receive() .. "\n") end, { on_segment = f.drop_first(1) }))
    local got = {}
    for i = 1, 2 do
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", 7))
        c:send("hi " .. i .. "\n")
        got[i] = c:receive()
      end)
    end
    sim:run(60000)
    assert.are.same({}, log)
    assert.are.same({ "hi 1", "hi 2" }, got)
    -- each connection lost its SYN (in) and its SYN-ACK (out): 4 drops
    assert.equal(4, f.stats().drop_first)
  end)
end)
