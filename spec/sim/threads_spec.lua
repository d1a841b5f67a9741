-- Threads, OpenResty style (tcplua.spawn / wait / kill) over the sim.
local luasim = require "helpers.luasim"

describe("threads", function()
  it("wait returns the first thread to finish, with its success flag and results", function()
    local sim, a, _, log = luasim.pair(1)
    local got, order
    a.spawn(function()
      local slow = a.spawn(function() a.sleep(200); return "slow" end)
      local fast = a.spawn(function(x, y) a.sleep(50); return x + y, "fast" end, 2, 3)
      got = { a.wait(slow, fast) }
      order = { a.wait(slow) }
    end)
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.same({ true, 5, "fast" }, got)
    assert.are.same({ true, "slow" }, order)
  end)

  it("a thread that already ended is waited for at once; waiting twice says so", function()
    local sim, a, _, log = luasim.pair(1)
    local r1, r2
    a.spawn(function()
      local t = a.spawn(function() return "now" end)
      r1 = { a.wait(t) }
      r2 = { a.wait(t) }
    end)
    assert.is_true(sim:run(1000))
    assert.are.same({}, log)
    assert.are.same({ true, "now" }, r1)
    assert.are.same({ nil, "already waited or killed" }, r2)
  end)

  it("a thread that raised gives false and the error, and is reported", function()
    local sim, a, _, log = luasim.pair(1)
    local got
    a.spawn(function()
      local t = a.spawn(function() a.sleep(10); error("boom", 0) end)
      got = { a.wait(t) }
    end)
    assert.is_true(sim:run(1000))
    assert.are.same({ false, "boom" }, got)
    assert.are.equal(1, #log)
    assert.matches("boom", log[1])
  end)

  it("kill stops a sleeping thread at once and cancels its timer", function()
    local sim, a, _, log = luasim.pair(1)
    local ran, killed, again, waited = false
    a.spawn(function()
      local t = a.spawn(function() a.sleep(100000); ran = true end)
      a.sleep(10)
      killed = { a.kill(t) }
      again = { a.kill(t) }
      waited = { a.wait(t) }
    end)
    assert.is_true(sim:run(1000))  -- no 100 s timer left behind
    assert.are.same({}, log)
    assert.is_false(ran)
    assert.are.same({ true }, killed)
    assert.are.same({ nil, "already waited or killed" }, again)
    assert.are.same({ nil, "already waited or killed" }, waited)
    assert.is_true(a.now() < 1000)
  end)

  it("a waiter on a thread that gets killed goes on waiting for the others", function()
    local sim, a, _, log = luasim.pair(1)
    local got
    a.spawn(function()
      local t1 = a.spawn(function() a.sleep(500); return 1 end)
      local t2 = a.spawn(function() a.sleep(100); return 2 end)
      a.spawn(function() a.sleep(10); a.kill(t2) end)
      got = { a.wait(t1, t2) }
    end)
    assert.is_true(sim:run(2000))
    assert.are.same({}, log)
    assert.are.same({ true, 1 }, got)
  end)

  it("a coroutine's threads are killed when it returns", function()
    local sim, a, _, log = luasim.pair(1)
    local child_done, child
    a.spawn(function()
      child = a.spawn(function() a.sleep(100000); child_done = true end)
      a.sleep(5)
    end)
    assert.is_true(sim:run(1000))
    assert.are.same({}, log)
    assert.is_nil(child_done)
    assert.are.equal("suspended", coroutine.status(child))  -- never resumed again
  end)

  it("a killed reader frees the connection for another reader", function()
    local sim, a, b, log = luasim.pair(1)
    luasim.serve(a, function(conn) a.sleep(50); conn:send("late line\n") end)
    local got
    luasim.client(b, function(c)
      local r = b.spawn(function() return c:receive() end)
      b.sleep(10)
      assert(b.kill(r))
      got = { c:receive() }
    end)
    assert.is_true(sim:run(20000))
    assert.are.same({}, log)
    assert.are.same({ "late line" }, got)
  end)

  it("wait and kill check their arguments", function()
    local sim, a, _, log = luasim.pair(1)
    local e1, e2
    a.spawn(function()
      e1 = select(2, pcall(a.wait))
      e2 = select(2, pcall(a.wait, "x"))
    end)
    assert.is_true(sim:run(100))
    assert.are.same({}, log)
    assert.matches("expected one or more threads", e1)
    assert.matches("not a thread", e2)
    assert.has_error(function() a.wait(coroutine.create(print)) end)  -- outside a coroutine
    assert.has_error(function() a.kill("x") end)
  end)

  it("error reports from a handler name the connection", function()
    local sim, a, b, log = luasim.pair(1)
    assert(a.listen(7, function(conn) conn:receive(1); error("bad input") end))
    local port
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      port = select(2, c:sockname())
      c:send("x")
      c:receive("*a")
    end)
    sim:run(5000)
    assert.are.equal(1, #log)
    assert.matches("error in connection handler: 10%.0%.0%.2:" .. port .. " %-> :7: .*bad input", log[1])
  end)

  it("error reports from an event-style callback name the connection too", function()
    local sim, a, b, log = luasim.pair(2)
    assert(a.listen(8, { on_data = function() error("bad data") end }))
    local port
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 8))
      port = select(2, c:sockname())
      c:send("x")
      c:receive("*a")
    end)
    sim:run(5000)
    assert.equal(1, #log)
    assert.matches("error in on_data callback: 10%.0%.0%.2:" .. port .. " %-> :8: .*bad data", log[1])
  end)
end)
