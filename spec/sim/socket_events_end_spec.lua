-- Event-style servers: half-close (on_end) and the idle timeout
-- (opts.idle_timeout), between two stacks over the sim.
local function setup() return require("helpers.luasim").pair(3) end

describe("event-style half-close (on_end)", function()
  it("the peer's FIN calls on_end, the server still replies, and on_close comes once at the end", function()
    local sim, a, b, log = setup()
    local events, req = {}, {}
    assert(a.listen(7, {
      on_data = function(conn, d) req[#req + 1] = d; events[#events + 1] = "data" end,
      on_end = function(conn)
        events[#events + 1] = "end:" .. conn:state()
        -- The reply needs the whole request, so it comes after the FIN.
        a.timer(200, function()
          assert(conn:send("got " .. table.concat(req)))
          assert(conn:close())
        end)
      end,
      on_close = function(_, why) events[#events + 1] = "close:" .. tostring(why) end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("abc"); c:shutdown("send")
      got = { c:receive("*a") }
    end)
    assert.is_true(sim:run_until(function() return events[#events] == "close:nil" and got ~= nil end, 10000))
    assert.are.same({}, log)
    assert.are.same({ "data", "end:CLOSE-WAIT", "close:nil" }, events)
    assert.are.same({ "got abc" }, got)           -- all of it, then FIN (not RST)
  end)

  it("shutdown(\"send\") after on_end ends the connection gracefully", function()
    local sim, a, b, log = setup()
    local whys, ends = {}, 0
    assert(a.listen(7, {
      on_end = function(conn)
        ends = ends + 1
        conn:send(string.rep("y", 100000))    -- more than the send buffer takes at once
        assert(conn:shutdown("send"))
      end,
      on_close = function(_, why) whys[#whys + 1] = tostring(why) end,
    }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:shutdown("send")
      got = c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return got ~= nil and #whys > 0 end, 20000))
    assert.are.same({}, log)
    assert.are.equal(1, ends)
    assert.are.same({ "nil" }, whys)
    assert.are.equal(100000, #got)
  end)

  it("without on_end the peer's FIN still ends the connection at once", function()
    local sim, a, b, log = setup()
    local why = "not called"
    assert(a.listen(7, { on_close = function(_, w) why = w end }))
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:shutdown("send")
      c:receive("*a")
    end)
    assert.is_true(sim:run_until(function() return why ~= "not called" end, 10000))
    assert.are.same({}, log)
    assert.is_nil(why)
  end)
end)

describe("event-style idle timeout (opts.idle_timeout)", function()
  it("closes a connection silent for idle_timeout with \"timeout\", and spares a talking one", function()
    local sim, a, b, log = setup()
    local T = 1000
    local closes, last_data = {}, {}
    assert(a.listen(7, {
      on_data = function(conn, d) last_data[d:sub(1, 1)] = a.now(); conn:send(d) end,
      on_close = function(conn, why) closes[#closes + 1] = { why = why, at = a.now() } end,
    }, { idle_timeout = T }))
    local quiet_got, talker_ok
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      c:send("q"); c:receive(1)
      quiet_got = { c:receive("*a") }            -- waits for the server's close
    end)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      for _ = 1, 16 do                            -- 4 s, one byte every T/4
        c:send("t"); assert(c:receive(1)); b.sleep(T / 4)
      end
      talker_ok = #closes == 1
      c:close()
    end)
    assert.is_true(sim:run_until(function() return talker_ok ~= nil and #closes == 2 end, 20000))
    assert.are.same({}, log)
    assert.are.equal("timeout", closes[1].why)
    local idle = closes[1].at - last_data.q
    assert.is_true(idle >= T and idle <= 1.5 * T + 50, "closed after " .. idle .. " ms idle")
    assert.are.same({ "" }, quiet_got)            -- a FIN, not a RST
    assert.is_true(talker_ok)
    assert.is_nil(closes[2].why)
  end)

  it("an on_close that ends another timed-out connection is safe", function()
    local sim, a, b, log = setup()
    local conns, whys = {}, {}
    assert(a.listen(7, {
      on_accept = function(conn) conns[#conns + 1] = conn end,
      on_close = function(conn, why)
        whys[#whys + 1] = tostring(why)
        for _, o in ipairs(conns) do if o ~= conn then o:abort() end end
      end,
    }, { idle_timeout = 500 }))
    for _ = 1, 3 do
      b.spawn(function()
        local c = assert(b.connect("10.0.0.1", 7))
        c:receive("*a")
        b.sleep(5000)
      end)
    end
    assert.is_true(sim:run_until(function() return #whys == 3 end, 5000))
    assert.are.same({}, log)
    table.sort(whys)
    assert.are.same({ "aborted", "aborted", "timeout" }, whys)
  end)

  it("rejects a bad idle_timeout", function()
    local _, a = setup()
    assert.has_error(function() a.listen(7, {}, { idle_timeout = -1 }) end)
    assert.has_error(function() a.listen(7, {}, { idle_timeout = "x" }) end)
    assert(a.listen(7, {}, { idle_timeout = 1000 }))
  end)
end)
