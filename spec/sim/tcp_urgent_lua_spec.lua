-- conn:send(data, { urgent = true }) from Lua, for coroutine sockets and
-- event-style servers: the bytes arrive inline and in order (RFC 6093) and
-- the sender's segments carry URG (RFC 9293 3.8.5).
local function setup() return require("helpers.luasim").pair(71) end

describe("urgent data from Lua", function()
  it("conn:send(data, { urgent = true }) sends it inline with URG; a plain send does not", function()
    local sim, a, b, log = setup()
    local got
    a.listen(7, function(conn) got = conn:receive("*a") end)
    local n1, n2, urg_plain
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      n1 = c:send("plain ")
      b.sleep(50)
      urg_plain = b.stats().tcp_urg_out
      n2 = c:send({ "ur", "gent" }, { urgent = true })
      b.sleep(50)
      c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal(6, n1)
    assert.are.equal(6, n2)
    assert.are.equal("plain urgent", got)
    assert.are.equal(0, urg_plain)
    assert.is_true(b.stats().tcp_urg_out >= 1, "no segment carried URG")
  end)

  it("conn:info() has the urgent marks snd_up and rcv_up", function()
    local sim, a, b, log = setup()
    local srv_info
    a.listen(7, function(conn)
      assert.are.equal("plain urgent tail", conn:receive(17))
      srv_info = conn:info()
    end)
    local before, after
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("plain ")
      b.sleep(50)
      before = c:info()
      c:send("urgent", { urgent = true })
      c:send(" tail")
      b.sleep(50)
      after = c:info()
      c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal(before.snd_una, before.snd_up) -- nothing urgent pending
    assert.are.equal((after.iss + 18) % 2 ^ 32, after.snd_una)
    assert.are.equal(after.snd_una, after.snd_up) -- acknowledged: nothing urgent pending
    -- all of the urgent data is in: nothing urgent pending
    -- (spec/sim/tcp_urgent_spec.lua checks the mark while it is)
    assert.are.equal((srv_info.irs + 18) % 2 ^ 32, srv_info.rcv_nxt)
    assert.are.equal(srv_info.rcv_nxt, srv_info.rcv_up)
  end)

  it("an event server's conn:send(data, { urgent = true }) sends it inline with URG", function()
    local sim, a, b, log = setup()
    assert(a.listen(7, { on_data = function(conn, data) conn:send(data:upper(), { urgent = true }) end }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("hello")
      got = c:receive(5)
      c:close()
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal("HELLO", got)
    assert.is_true(a.stats().tcp_urg_out >= 1, "no segment carried URG")
  end)

  it("an event server's urgent send queued behind a full send buffer still goes out urgent", function()
    local sim, a, b, log = setup()
    local big = ("b"):rep(256 * 1024)
    local queued
    assert(a.listen(7, { on_accept = function(conn)
      conn:send(big)
      conn:send("!", { urgent = true })
      queued = conn:pending()
      conn:close()
    end }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      got = c:receive("*a")
      c:close()
    end)
    assert.is_true(sim:run(30000))
    assert.are.same({}, log)
    assert.is_true(queued > 0, "nothing was queued in Lua; the test needs it")
    assert.is_true(got == big .. "!", "data changed")
    assert.is_true(a.stats().tcp_urg_out >= 1, "the queued urgent byte went out without URG")
  end)
end)
