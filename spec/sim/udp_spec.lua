-- UDP between two sim stacks through the Lua API (tcplua.udp): LuaSocket's
-- calls, the event style, seeded loss, port unreachable, the bounded
-- receive queue, timeouts, and errors in handlers.
local luasim = require "helpers.luasim"

-- Echo on a, port 7, event style.
local function echo(a, port)
  return assert(a.udp { port = port or 7, on_datagram = function(s, data, ip, p) assert(s:sendto(data, ip, p)) end })
end

describe("tcplua.udp in the sim", function()
  it("exchanges datagrams in the LuaSocket vocabulary", function()
    local sim, a, b, log = luasim.pair(1)
    local srv = echo(a)
    assert.are.same({ "10.0.0.1", 7 }, { srv:getsockname() })
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(2000)
      assert(c:setsockname("*", 5000))
      assert.are.same({ "10.0.0.2", 5000 }, { c:getsockname() })
      assert.are.same({ nil, "not connected" }, { c:getpeername() })
      assert(c:sendto("one", "10.0.0.1", 7))
      got[1] = { c:receivefrom() }
      assert(c:setpeername("10.0.0.1", 7))
      assert.are.same({ "10.0.0.1", 7 }, { c:getpeername() })
      assert(c:send("two"))
      got[2] = c:receive()
      assert(c:send(string.rep("x", 30000))) -- fragmented each way
      got[3] = #c:receive()
      assert(c:send("truncated"))
      got[4] = c:receive(4)
      assert(c:close())
      got[5] = { c:send("x") }
    end)
    sim:run(5000)
    assert.are.same({ { "one", "10.0.0.1", 7 }, "two", 30000, "trun", { nil, "closed" } }, got)
    assert.are.same({}, log)
    assert.is_true(a.stats().ip_reasm_ok >= 1 and a.stats().ip_fragmented >= 1)
  end)

  it("gets every answer under 20% seeded loss each way by asking again", function()
    local sim, a, b, log = luasim.pair(7)
    sim:impair(nil, { loss = 0.2 })
    echo(a)
    local answered, tries = 0, 0
    b.spawn(function()
      local c = assert(b.udp())
      assert(c:setpeername("10.0.0.1", 7))
      c:settimeout(50)
      for i = 1, 100 do
        local msg = "request " .. i
        repeat
          tries = tries + 1
          assert(c:send(msg))
          local r, err = c:receive()
          -- A late answer to an earlier try of this request may come first.
        until r == msg or (r == nil and err ~= "timeout" and error(err))
        answered = answered + 1
      end
    end)
    sim:run(60000)
    assert.are.same({}, log)
    assert.equal(100, answered)
    assert.is_true(tries > 110, "tries " .. tries) -- loss did happen
    local st = a.stats()
    assert.equal(st.udp_in, st.udp_delivered)
  end)

  it("reports a closed port as refused on a connected socket only", function()
    local sim, a, b, log = luasim.pair(1)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(200)
      assert(c:setpeername("10.0.0.1", 9))
      assert(c:send("hello?"))
      got[1] = { c:receive() }
      -- The error is reported once.
      got[2] = { c:receive() }
      local u = assert(b.udp())
      u:settimeout(200)
      assert(u:sendto("hello?", "10.0.0.1", 9))
      got[3] = { u:receivefrom() }
    end)
    sim:run(5000)
    assert.are.same({ { nil, "refused" }, { nil, "timeout" }, { nil, "timeout" } }, got)
    assert.equal(2, a.stats().udp_no_port)
    assert.equal(1, b.stats().udp_icmp_err)
    assert.equal(1, b.stats().udp_icmp_ignored)
    assert.are.same({}, log)
  end)

  it("drops what a full receive queue cannot take, and counts it", function()
    local sim, a, b, log = luasim.pair(1)
    local r = assert(a.udp { port = 9, rcvbuf = 65531 })
    assert.equal(65531, r:getoption("rcvbuf"))
    b.spawn(function()
      local c = assert(b.udp())
      for _ = 1, 10 do assert(c:sendto(string.rep("d", 20000), "10.0.0.1", 9)) end
    end)
    sim:run(2000)
    -- 20,016 bytes each (16 of bookkeeping): 3 fit in 65,523.
    assert.are.same({ queued = 3, drops = 7, rcvbuf = 65531 }, r:info())
    assert.equal(7, a.stats().drop_udp_rcvq_full)
    local n = 0
    a.spawn(function()
      r:settimeout(0)
      while r:receivefrom() do n = n + 1 end
    end)
    sim:run(100)
    assert.equal(3, n)
    assert.are.same({}, log)
  end)

  it("times out a receive per settimeout, in virtual time", function()
    local sim, a, _, log = luasim.pair(1)
    local res
    a.spawn(function()
      local s = assert(a.udp { port = 1234 })
      s:settimeout(250)
      local t0 = a.now()
      local data, err = s:receivefrom()
      res = { data, err, a.now() - t0 }
    end)
    sim:run(2000)
    assert.equal(nil, res[1])
    assert.equal("timeout", res[2])
    assert.is_true(res[3] >= 250 and res[3] < 260, tostring(res[3]))
    assert.are.same({}, log)
  end)

  it("reports an error in on_datagram with its traceback and keeps every socket serving", function()
    local sim, a, b, log = luasim.pair(1)
    assert(a.udp { port = 8, on_datagram = function(s, data, ip, p)
      if data == "boom" then error("handler blew up") end
      s:sendto("8:" .. data, ip, p)
    end })
    echo(a, 7)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(500)
      for _, m in ipairs({ { "boom", 8 }, { "after", 8 }, { "other", 7 } }) do
        assert(c:sendto(m[1], "10.0.0.1", m[2]))
        got[#got + 1] = c:receive() or "none"
      end
    end)
    sim:run(5000)
    assert.are.same({ "none", "8:after", "other" }, got)
    assert.equal(1, #log)
    assert.matches("error in on_datagram: udp :8 from 10%.0%.0%.2:%d+: .*handler blew up", log[1])
    assert.matches("stack traceback", log[1])
  end)

  it("refuses what it cannot send, and a port already bound", function()
    local _, a = luasim.pair(1)
    local s = assert(a.udp { port = 7 })
    local t = assert(a.udp())
    assert.are.same({ nil, "in use" }, { t:setsockname("*", 7) })
    assert.are.same({ nil, "not connected" }, { t:send("x") })
    assert.matches("too large", select(2, t:sendto(string.rep("x", 65508), "10.0.0.2", 7)))
    assert.matches("bad address", select(2, t:sendto("x", "no.such.name.invalid", 7)))
    assert.has_error(function() t:sendto("x", "10.0.0.2", 0) end)
    assert.has_error(function() a.udp { on_datagram = 1 } end)
    assert.is_nil(a.udp { port = 7 })
    s:close()
    t:close()
  end)

  it("runs examples/udp_echo.lua unchanged", function()
    local sim, a, b, log = luasim.pair(2)
    local chunk = assert(loadfile("examples/udp_echo.lua"))
    setfenv(chunk, setmetatable({ print = function() end,
      require = function(m) if m == "tcplua" then return a end return require(m) end }, { __index = _G }))
    chunk()
    local got
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(1000)
      assert(c:sendto("echo me", "10.0.0.1", 7))
      got = c:receive()
    end)
    sim:run(3000)
    assert.equal("echo me", got)
    assert.are.same({}, log)
  end)
  it("answers DNS queries from examples/dns.lua: A, AAAA, NXDOMAIN, FORMERR, NOTIMP", function()
    local sim, a, b, log = luasim.pair(2)
    local chunk = assert(loadfile("examples/dns.lua"))
    setfenv(chunk, setmetatable({ print = function() end,
      require = function(m) if m == "tcplua" then return a end return require(m) end }, { __index = _G }))
    chunk("5353")
    local function u16(n) return string.char(math.floor(n / 256), n % 256) end
    local function query(id, name, qtype, opcode)
      local q = u16(id) .. u16((opcode or 0) * 2048 + 256) .. u16(1) .. u16(0) .. u16(0) .. u16(0)
      for label in name:gmatch("[^.]+") do q = q .. string.char(#label) .. label end
      return q .. "\0" .. u16(qtype) .. u16(1)
    end
    local replies = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(500)
      assert(c:setpeername("10.0.0.1", 5353))
      for _, q in ipairs({ query(1, "www.tcplua.test", 1), query(2, "TCPLUA.test", 28), query(3, "nope.tcplua.test", 1),
        query(4, "host.tcplua.test", 28), query(5, "x", 1):sub(1, 14), query(6, "www.tcplua.test", 1, 2), "\1" }) do
        assert(c:send(q))
        replies[#replies + 1] = c:receive() or "none"
      end
    end)
    sim:run(5000)
    assert.are.same({}, log)
    local function rcode(r) return r:byte(4) % 16 end
    local function ancount(r) return r:byte(7) * 256 + r:byte(8) end
    -- A: two records, each ending in its address.
    assert.equal(0, rcode(replies[1]))
    assert.equal(2, ancount(replies[1]))
    assert.equal("\10\77\0\2", replies[1]:sub(-20, -17))
    assert.equal("\10\77\0\3", replies[1]:sub(-4))
    assert.equal(0x84, replies[1]:byte(3) - replies[1]:byte(3) % 4) -- QR and AA set, RD copied below
    -- AAAA (names without case): fd77::2.
    assert.equal(1, ancount(replies[2]))
    assert.equal("\253\119" .. string.rep("\0", 13) .. "\2", replies[2]:sub(-16))
    assert.are.same({ 3, 0 }, { rcode(replies[3]), ancount(replies[3]) })   -- NXDOMAIN
    assert.are.same({ 0, 0 }, { rcode(replies[4]), ancount(replies[4]) })   -- the name has no AAAA
    assert.equal(1, rcode(replies[5]))                                        -- FORMERR: cut short
    assert.equal(4, rcode(replies[6]))                                        -- NOTIMP: opcode 2
    assert.equal("none", replies[7])                                          -- no ID: no answer
  end)
end)
