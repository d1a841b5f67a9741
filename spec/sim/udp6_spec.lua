-- UDP over IPv6 between two dual-stack sim stacks through the Lua API:
-- LuaSocket's calls with IPv6 addresses, a wildcard socket taking both
-- families, port unreachable as ICMPv6, and a datagram fragmented by
-- IPv6 and reassembled.
local function pair(seed)
  local log = {}
  local sim = require("tcplua.sim").new { seed = seed or 1, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local a = sim:stack { addr = "10.0.0.1", addr6 = "fd77::1" }
  local b = sim:stack { addr = "10.0.0.2", addr6 = "fd77::2" }
  return sim, a, b, log
end

local function echo(a, port)
  return assert(a.udp { port = port or 7, on_datagram = function(s, data, ip, p) assert(s:sendto(data, ip, p)) end })
end

describe("tcplua.udp over IPv6 in the sim", function()
  it("exchanges datagrams with IPv6 addresses, and a wildcard socket takes both families", function()
    local sim, a, b, log = pair(1)
    local srv = echo(a)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(2000)
      assert(c:setsockname("::", 5000))
      assert.are.same({ "::", 5000 }, { c:getsockname() })
      assert(c:sendto("six", "fd77::1", 7))
      got[1] = { c:receivefrom() }
      assert(c:sendto("four", "10.0.0.1", 7)) -- the same socket, IPv4
      got[2] = { c:receivefrom() }
      assert(c:setpeername("fd77::1", 7))
      assert.are.same({ "fd77::1", 7 }, { c:getpeername() })
      assert(c:send("connected"))
      got[3] = c:receive()
      assert(c:send(string.rep("y", 8000))) -- fragmented each way
      got[4] = c:receive()
      local v6 = assert(b.udp())
      assert(v6:setsockname("fd77::2", 0))
      assert.equal("fd77::2", (v6:getsockname()))
      got[5] = { v6:sendto("x", "10.0.0.1", 7) } -- bound to IPv6: no IPv4
      v6:close()
    end)
    sim:run(5000)
    assert.are.same({ "six", "fd77::1", 7 }, got[1])
    assert.are.same({ "four", "10.0.0.1", 7 }, got[2])
    assert.equal("connected", got[3])
    assert.equal(string.rep("y", 8000), got[4])
    assert.is_nil(got[5][1])
    assert.matches("family", got[5][2])
    assert.are.same({}, log)
    local sa, sb = a.stats(), b.stats()
    assert.equal(3, sa.udp6_in) -- six, connected, the big one; four came over IPv4
    assert.is_true(sa.ip6_fragmented >= 1 and sb.ip6_fragmented >= 1)
    assert.equal(0, sa.drop_udp_checksum + sb.drop_udp_checksum)
    srv:close()
  end)

  it("answers a closed port with ICMPv6 port unreachable: refused on a connected socket", function()
    local sim, a, b, log = pair(1)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(200)
      assert(c:setpeername("fd77::1", 9))
      assert(c:send("hello?"))
      got[1] = { c:receive() }
      got[2] = { c:receive() }
      local u = assert(b.udp())
      u:settimeout(200)
      assert(u:sendto("hello?", "fd77::1", 9))
      got[3] = { u:receivefrom() }
    end)
    sim:run(5000)
    assert.are.same({ { nil, "refused" }, { nil, "timeout" }, { nil, "timeout" } }, got)
    assert.equal(2, a.stats().udp_no_port)
    assert.equal(2, a.stats().icmp6_err_out)
    assert.equal(1, b.stats().udp_icmp_err)
    assert.equal(1, b.stats().udp_icmp_ignored)
    assert.are.same({}, log)
  end)

  it("runs examples/udp_echo.lua and examples/dns.lua over IPv6 unchanged", function()
    local sim, a, b, log = pair(2)
    for _, ex in ipairs { { "examples/udp_echo.lua" }, { "examples/dns.lua", "5353" } } do
      local chunk = assert(loadfile(ex[1]))
      setfenv(chunk, setmetatable({ print = function() end,
        require = function(m) if m == "tcplua" then return a end return require(m) end }, { __index = _G }))
      chunk(ex[2])
    end
    local got, reply = nil, nil
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(1000)
      assert(c:sendto("echo me", "fd77::1", 7))
      got = { c:receivefrom() }
      -- A DNS query for TCPLUA.test AAAA (id 2, RD).
      local q = "\0\2\1\0\0\1\0\0\0\0\0\0\6TCPLUA\4test\0\0\28\0\1"
      assert(c:sendto(q, "fd77::1", 5353))
      reply = c:receive()
    end)
    sim:run(3000)
    assert.are.same({ "echo me", "fd77::1", 7 }, got)
    assert.equal(1, reply:byte(7) * 256 + reply:byte(8))
    assert.equal("\253\119" .. string.rep("\0", 13) .. "\2", reply:sub(-16))
    assert.are.same({}, log)
  end)

  it("resolves hosts-file names to either family, as connect does", function()
    local hosts = require "tcplua.hosts"
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("fd77::1 six\n10.0.0.1 four\n")
    f:close()
    local saved = hosts.path
    hosts.path = path
    finally(function()
      hosts.path = saved
      os.remove(path)
    end)
    local sim, a, b, log = pair(3)
    echo(a)
    local got = {}
    b.spawn(function()
      local c = assert(b.udp())
      c:settimeout(1000)
      for _, name in ipairs { "six", "four" } do
        assert(c:sendto(name, name, 7))
        got[#got + 1] = { c:receivefrom() }
      end
      assert(c:setpeername("six", 7))
      got[#got + 1] = { c:getpeername() }
    end)
    sim:run(3000)
    assert.are.same({ { "six", "fd77::1", 7 }, { "four", "10.0.0.1", 7 }, { "fd77::1", 7 } }, got)
    assert.are.same({}, log)
  end)
end)
