-- connect and listen take names from the hosts file (no DNS).
local luasim = require "helpers.luasim"
local hosts = require "tcplua.hosts"

describe("names from the hosts file", function()
  local saved = hosts.path
  local file = os.tmpname()
  before_each(function()
    local f = assert(io.open(file, "w"))
    f:write("# test hosts\n127.0.0.1 localhost\n::1 ip6-localhost server\n",
      "10.0.0.1\tserver  Srv.example   # the listener\n10.0.0.2 client\n")
    f:close()
    hosts.path = file
  end)
  after_each(function() hosts.path = saved end)
  teardown(function() os.remove(file) end)

  it("resolves names case-insensitively, IPv4 lines only, dotted quads as they are", function()
    assert.equal(hosts.resolve("10.0.0.1"), hosts.resolve("server"))
    assert.equal(hosts.resolve("10.0.0.1"), hosts.resolve("SRV.EXAMPLE"))
    local a, err = hosts.resolve("nowhere")
    assert.is_nil(a)
    assert.matches("not a name in " .. file, err, 1, true)
  end)

  it("connect and listen accept a name", function()
    local sim, a, b, log = luasim.pair(1)
    assert(a.listen("server", 7, function(conn) conn:send(conn:receive() .. "\n") end))
    local got
    b.spawn(function()
      local c = assert(b.connect("srv.example", 7))
      c:send("hi\n")
      got = c:receive()
    end)
    assert(sim:run(20000))
    assert.are.same({}, log)
    assert.equal("hi", got)
  end)

  it("says why a name fails: unknown, loopback, or not the stack's address", function()
    local sim, a, b, log = luasim.pair(1)
    local srv, lerr = a.listen("client", 7, function() end)
    assert.is_nil(srv)
    assert.matches("not this stack's address", lerr)
    assert(a.listen("*", 8, function() end))
    local r1, r2
    b.spawn(function()
      r1 = { b.connect("nowhere", 7) }
      r2 = { b.connect("localhost", 7) }
    end)
    sim:run(1000)
    assert.are.same({}, log)
    assert.matches("^bad address: nowhere", r1[2])
    assert.matches("^unreachable: localhost is 127%.0%.0%.1, a loopback address", r2[2])
  end)
end)
